#!/bin/bash
# make-runs.sh records strongSwan-against-strongSwan IKEv1 runs that the
# interop runs (interop/testdata/strongswan-runs) do not cover, for the
# known-answer vectors of ikecrypto: ECDSA P-384 authentication with a SHA-1
# PRF (HASH_I/HASH_R then use HMAC-SHA-384, not the PRF), AES-256 with SHA-1
# and MD5 (Ka expansion), groups 5, 31 and PFS with 15/21. It is adapted from
# the interop engineer's make-runs.sh; keys change with every run, so run it
# only to add runs. Root, strongSwan 5.9 (Debian), tshark, dumpcap.
#
#   ./make-runs.sh                # all runs
#   ./make-runs.sh NAME...        # some
#
# Namespaces h2a (192.0.2.1) and h2b (192.0.2.2), deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/h2runs}
NSA=h2a NSB=h2b
IPA=192.0.2.1 IPB=192.0.2.2

cleanup() {
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del $NSA 2>/dev/null || true
	ip netns del $NSB 2>/dev/null || true
}
trap cleanup EXIT

netns_up() {
	ip netns del $NSA 2>/dev/null || true
	ip netns del $NSB 2>/dev/null || true
	ip netns add $NSA
	ip netns add $NSB
	ip link add h2a0 netns $NSA type veth peer name h2b0 netns $NSB
	ip -n $NSA addr add $IPA/24 dev h2a0
	ip -n $NSB addr add $IPB/24 dev h2b0
	ip -n $NSA link set lo up
	ip -n $NSB link set lo up
	ip -n $NSA addr add 198.51.100.1/32 dev lo
	ip -n $NSB addr add 198.51.100.129/32 dev lo
	ip -n $NSA link set h2a0 up
	ip -n $NSB link set h2b0 up
}

strongswan_conf() {
	local d=$1
	cat >"$d/strongswan.conf" <<EOC
charon-systemd {
  journal { default = -1 }
  filelog {
    main {
      path = $d/charon.log
      default = 1
      ike = 4
      chd = 4
      cfg = 2
      enc = 1
      net = 1
      time_format = %b %e %T
      flush_line = yes
    }
  }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://$d/vici }
    kernel-libipsec { load = yes }
  }
  install_virtual_ip = no
}
swanctl { socket = unix://$d/vici }
EOC
}

start_charon() {
	local ns=$1 d=$2
	STRONGSWAN_CONF=$d/strongswan.conf ip netns exec "$ns" /usr/sbin/charon-systemd >"$d/stdout.log" 2>&1 &
	echo $! >"$d/charon.pid"
	for _ in $(seq 50); do
		[ -S "$d/vici" ] && return 0
		sleep 0.1
	done
	echo "charon in $ns did not start" >&2
	return 1
}

stop_charon() {
	local d=$1
	kill "$(cat "$d/charon.pid")" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$(cat "$d/charon.pid")" 2>/dev/null || return 0
		sleep 0.1
	done
}

swanctl_in() {
	local d=$1
	shift
	STRONGSWAN_CONF=$d/strongswan.conf SWANCTL_DIR=$d/swanctl swanctl "$@"
}

# extract PCAP DIR writes every ISAKMP datagram as DIR/NN-i2r.bin or NN-r2i.bin
# (raw UDP payload, the non-ESP marker of port 4500 stripped, RFC 3948, 2.2).
extract() {
	local pcap=$1 dir=$2 n=0
	rm -f "$dir"/[0-9][0-9]-*.bin
	tshark -r "$pcap" -Y 'isakmp' -T fields -e ip.src -e udp.srcport -e udp.dstport -e udp.payload 2>/dev/null |
		while read -r src sport dport hex; do
			if [ "$sport" = 4500 ] || [ "$dport" = 4500 ]; then
				case $hex in
				00000000*) hex=${hex:8} ;;
				*) continue ;;
				esac
			fi
			n=$((n + 1))
			d=r2i
			[ "$src" = "$IPA" ] && d=i2r
			printf '%s' "$hex" | xxd -r -p >"$(printf '%s/%02d-%s.bin' "$dir" "$n" "$d")"
		done
}

make_pki() {
	local d=$1/pki type=$2 size=$3
	[ -d "$d" ] && return 0
	mkdir -p "$d"
	pki --gen --type "$type" --size "$size" --outform pem >"$d/ca-key.pem"
	pki --self --ca --lifetime 3650 --in "$d/ca-key.pem" --type "$type" \
		--dn "C=CH, O=iked test, CN=iked h2 CA $type" --outform pem >"$d/ca-cert.pem"
	for who in initiator responder; do
		pki --gen --type "$type" --size "$size" --outform pem >"$d/$who-key.pem"
		pki --pub --in "$d/$who-key.pem" --type "$type" |
			pki --issue --lifetime 3650 --cacert "$d/ca-cert.pem" --cakey "$d/ca-key.pem" \
				--dn "C=CH, O=iked test, CN=$who.example" --san "$who.example" \
				--outform pem >"$d/$who-cert.pem"
	done
}

# conf SIDE PROPOSAL ESP AUTH: a swanctl.conf for the initiator (i) or responder (r).
conf() {
	local side=$1 prop=$2 esp=$3 auth=$4 me=$IPA peer=$IPB lts=198.51.100.0/25 rts=198.51.100.128/25 lid rid
	[ "$side" = r ] && me=$IPB peer=$IPA lts=198.51.100.128/25 rts=198.51.100.0/25
	if [ "$auth" = psk ]; then
		lid=$me rid=$peer
	else
		lid=initiator.example rid=responder.example
		[ "$side" = r ] && lid=responder.example rid=initiator.example
	fi
	cat <<EOC
connections {
  ike {
    version = 1
    local_addrs = $me
    remote_addrs = $peer
    proposals = $prop
    rekey_time = 4h
$([ "$auth" = psk ] || echo "    send_cert = always")
    local {
      auth = $( [ "$auth" = psk ] && echo psk || echo pubkey)
$([ "$auth" = psk ] || echo "      certs = ${lid%%.*}-cert.pem")
      id = $lid
    }
    remote {
      auth = $( [ "$auth" = psk ] && echo psk || echo pubkey)
      id = $rid
    }
    children {
      c {
        local_ts = $lts
        remote_ts = $rts
        esp_proposals = $esp
        rekey_time = 1h
        start_action = none
      }
    }
  }
}
$([ "$auth" = psk ] && printf 'secrets {\n  ike-psk {\n    id-1 = %s\n    id-2 = %s\n    secret = "h2-kat-psk-%s"\n  }\n}\n' $IPA $IPB "$NAME")
EOC
}

# run NAME PROPOSAL ESP AUTH [PKITYPE PKISIZE METHOD]
run() {
	NAME=$1
	local prop=$2 esp=$3 auth=$4 out=$HERE/$1 w=$WORK/$1
	echo "== $NAME"
	rm -rf "$w"
	mkdir -p "$w/i/swanctl" "$w/r/swanctl" "$out"
	[ "$auth" = psk ] || { make_pki "$out" "$5" "$6"; echo "$7" >"$out/auth-method"; }
	netns_up
	for side in i r; do
		strongswan_conf "$w/$side"
		for sub in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey rsa ecdsa bliss pkcs8 pkcs12 private; do mkdir -p "$w/$side/swanctl/$sub"; done
		conf $side "$prop" "$esp" "$auth" >"$w/$side/swanctl/swanctl.conf"
	done
	cp "$w/i/swanctl/swanctl.conf" "$out/initiator.swanctl.conf"
	cp "$w/r/swanctl/swanctl.conf" "$out/responder.swanctl.conf"
	if [ "$auth" != psk ]; then
		for s in i:initiator r:responder; do
			cp "$out/pki/ca-cert.pem" "$w/${s%%:*}/swanctl/x509ca/"
			cp "$out/pki/${s#*:}-cert.pem" "$w/${s%%:*}/swanctl/x509/"
			cp "$out/pki/${s#*:}-key.pem" "$w/${s%%:*}/swanctl/private/"
		done
	fi
	ip netns exec $NSA dumpcap -q -P -i h2a0 -f udp -w "$w/capture.pcap" >/dev/null 2>&1 &
	local cap=$!
	sleep 1
	start_charon $NSA "$w/i"
	start_charon $NSB "$w/r"
	swanctl_in "$w/r" --load-all --file "$w/r/swanctl/swanctl.conf" >"$w/r/load.log"
	swanctl_in "$w/i" --load-all --file "$w/i/swanctl/swanctl.conf" >"$w/i/load.log"
	swanctl_in "$w/i" --initiate --child c --timeout 20 >"$w/i/initiate.log" 2>&1
	sleep 1
	swanctl_in "$w/i" --list-sas >"$out/initiator-list-sas.txt" || true
	stop_charon "$w/i"
	stop_charon "$w/r"
	sleep 0.5
	kill $cap
	wait $cap 2>/dev/null || true
	cp "$w/i/charon.log" "$out/initiator.log"
	cp "$w/r/charon.log" "$out/responder.log"
	cp "$w/capture.pcap" "$out/capture.pcap"
	chmod 644 "$out/capture.pcap"
	extract "$out/capture.pcap" "$out"
	ip netns del $NSA
	ip netns del $NSB
}

runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(i-mm-ecdsa384-aes256-sha1-modp2048 j-mm-psk-aes256-md5-modp1536-pfs15 k-mm-psk-aes192-sha512-curve25519-pfs21)
for r in "${runs[@]}"; do
	case $r in
	i-*) run "$r" aes256-sha1-modp2048 aes128-sha1 pubkey ecdsa 384 10 ;;
	j-*) run "$r" aes256-md5-modp1536 aes256-md5-modp3072 psk ;;
	k-*) run "$r" aes192-sha512-curve25519 aes128-sha256-ecp521 psk ;;
	esac
done
