#!/bin/bash
# make-runs.sh regenerates the strongSwan-vs-strongSwan IKEv1 runs in this
# folder and the raw ISAKMP datagrams in isakmp/testdata/captures/. It is kept
# for the record: the committed logs and pcaps are the known-answer source, so
# only run it to add runs or after a strongSwan upgrade (keys change each run).
#
# Usage (root, Debian strongSwan 5.9 + ike-scan + tshark installed):
#   ./make-runs.sh            # all runs
#   ./make-runs.sh a-mm-psk-modp2048 ike-scan   # only the named ones
#
# Each run uses two network namespaces h4a (192.0.2.1) and h4b (192.0.2.2)
# joined by a veth pair; everything is deleted on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CAPS=$(cd "$HERE/../../../isakmp/testdata/captures" && pwd)
WORK=${WORK:-/tmp/h4runs}
NSA=h4a NSB=h4b
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
	ip link add h4a0 netns $NSA type veth peer name h4b0 netns $NSB
	ip -n $NSA addr add $IPA/24 dev h4a0
	ip -n $NSB addr add $IPB/24 dev h4b0
	ip -n $NSA link set lo up
	# inner addresses inside the traffic selectors, so libipsec can route
	ip -n $NSA addr add 198.51.100.1/32 dev lo
	ip -n $NSB addr add 198.51.100.129/32 dev lo
	ip -n $NSB link set lo up
	ip -n $NSA link set h4a0 up
	ip -n $NSB link set h4b0 up
}

# strongswan_conf DIR writes DIR/strongswan.conf: own vici socket, a file log
# at ike=4/chd=4 (keys), kernel-libipsec so child SAs install on a kernel
# without ESP (it forces UDP encapsulation, so IKE floats to port 4500).
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
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  install_virtual_ip = no
}
swanctl { socket = unix://$d/vici }
EOC
}

# start_charon NS DIR starts charon in NS and waits for its vici socket.
start_charon() {
	local ns=$1 d=$2
	STRONGSWAN_CONF=$d/strongswan.conf ip netns exec "$ns" /usr/sbin/charon-systemd >"$d/stdout.log" 2>&1 &
	echo $! >"$d/charon.pid"
	for _ in $(seq 50); do
		[ -S "$d/vici" ] && return 0
		sleep 0.1
	done
	echo "charon in $ns did not start" >&2
	cat "$d/stdout.log" >&2
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

# extract PCAP PREFIX writes every ISAKMP datagram of PCAP as
# PREFIX-NN-DIR.bin (DIR = i2r when sent from 192.0.2.1, else r2i), the raw
# UDP payload with the 4-byte non-ESP marker of port 4500 stripped (RFC 3948, 2.2).
extract() {
	local pcap=$1 prefix=$2 n=0
	rm -f "$prefix"-[0-9][0-9]-*.bin
	tshark -r "$pcap" -Y 'isakmp' -T fields -e ip.src -e udp.srcport -e udp.dstport -e udp.payload 2>/dev/null |
		while read -r src sport dport hex; do
			n=$((n + 1))
			dir=r2i
			[ "$src" = "$IPA" ] && dir=i2r
			if [ "$sport" = 4500 ] || [ "$dport" = 4500 ]; then
				case $hex in
				00000000*) hex=${hex:8} ;;
				*) continue ;; # ESP-in-UDP, not ISAKMP
				esac
			fi
			printf '%s' "$hex" | xxd -r -p >"$(printf '%s-%02d-%s.bin' "$prefix" "$n" "$dir")"
		done
}

# make_pki DIR TYPE SIZE writes DIR/pki/: a self-signed CA and an initiator
# and a responder certificate (subjectAltName initiator.example and
# responder.example) made by strongSwan's pki, unless DIR/pki already exists.
make_pki() {
	local d=$1/pki type=$2 size=$3
	[ -d "$d" ] && return 0
	mkdir -p "$d"
	pki --gen --type "$type" --size "$size" --outform pem >"$d/ca-key.pem" 2>/dev/null
	pki --self --ca --lifetime 3650 --in "$d/ca-key.pem" --type "$type" \
		--dn "C=CH, O=iked test, CN=iked test CA $type" --outform pem >"$d/ca-cert.pem"
	for who in initiator responder; do
		pki --gen --type "$type" --size "$size" --outform pem >"$d/$who-key.pem" 2>/dev/null
		pki --pub --in "$d/$who-key.pem" --type "$type" 2>/dev/null |
			pki --issue --lifetime 3650 --cacert "$d/ca-cert.pem" --cakey "$d/ca-key.pem" \
				--dn "C=CH, O=iked test, CN=$who.example" --san "$who.example" \
				--outform pem >"$d/$who-cert.pem"
	done
}

# run NAME ACTION: the swanctl.conf files are in NAME/initiator.swanctl.conf
# and NAME/responder.swanctl.conf (plus NAME/pki for certificate runs);
# ACTION is a shell function run after both sides have loaded them.
run() {
	local name=$1 action=$2 out=$HERE/$1 w=$WORK/$1
	echo "== $name"
	rm -rf "$w"
	mkdir -p "$w/i/swanctl" "$w/r/swanctl"
	netns_up
	for side in i r; do
		strongswan_conf "$w/$side"
		for sub in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey rsa ecdsa bliss pkcs8 pkcs12 private; do mkdir -p "$w/$side/swanctl/$sub"; done
	done
	cp "$out/initiator.swanctl.conf" "$w/i/swanctl/swanctl.conf"
	cp "$out/responder.swanctl.conf" "$w/r/swanctl/swanctl.conf"
	if [ -d "$out/pki" ]; then
		cp "$out"/pki/ca-cert.pem "$w/i/swanctl/x509ca/"
		cp "$out"/pki/ca-cert.pem "$w/r/swanctl/x509ca/"
		cp "$out"/pki/initiator-cert*.pem "$w/i/swanctl/x509/"
		cp "$out"/pki/initiator-key*.pem "$w/i/swanctl/private/"
		cp "$out"/pki/responder-cert*.pem "$w/r/swanctl/x509/"
		cp "$out"/pki/responder-key*.pem "$w/r/swanctl/private/"
	fi
	ip netns exec $NSA dumpcap -q -P -i h4a0 -f udp -w "$w/capture.pcap" >/dev/null 2>&1 &
	local cap=$!
	sleep 1
	start_charon $NSA "$w/i"
	start_charon $NSB "$w/r"
	swanctl_in "$w/r" --load-all --file "$w/r/swanctl/swanctl.conf" >"$w/r/load.log"
	swanctl_in "$w/i" --load-all --file "$w/i/swanctl/swanctl.conf" >"$w/i/load.log"
	$action "$w"
	swanctl_in "$w/i" --list-sas >"$w/i/list-sas.txt" || true
	swanctl_in "$w/r" --list-sas >"$w/r/list-sas.txt" || true
	sleep 1
	stop_charon "$w/i"
	stop_charon "$w/r"
	sleep 0.5
	kill $cap
	wait $cap 2>/dev/null || true
	cp "$w/i/charon.log" "$out/initiator.log"
	cp "$w/r/charon.log" "$out/responder.log"
	cp "$w/i/list-sas.txt" "$out/initiator-list-sas.txt"
	cp "$w/r/list-sas.txt" "$out/responder-list-sas.txt"
	cp "$w/capture.pcap" "$out/capture.pcap"
	chmod 644 "$out/capture.pcap"
	extract "$out/capture.pcap" "$CAPS/strongswan-$name"
	readme "$name"
	ip netns del $NSA
	ip netns del $NSB
}

# describe NAME prints what run NAME shows.
describe() {
	case $1 in
	a-*) echo "Main Mode, PSK, IKE aes128-sha256-modp2048 (group 14), ESP aes128-sha256 without PFS." ;;
	b-*) echo "Main Mode, PSK, IKE 3des-sha1-modp1024 (group 2), ESP aes256-sha1 with PFS group 2: the ESP keys (32 + 20 bytes) need KEYMAT expansion beyond one SHA-1 output (RFC 2409, 5.5)." ;;
	c-*) echo "Main Mode, PSK, IKE aes256-sha256-ecp256 (group 19), ESP aes128gcm16 (16-byte key + 4-byte salt) with PFS ecp256." ;;
	d-*) echo "Main Mode, PSK, IKE aes128-sha1-ecp384 (group 20), ESP aes128-sha1 without PFS." ;;
	e-*) echo "Aggressive Mode, PSK, IKE aes128-sha256-modp2048, IDs FQDN initiator.example / responder.example, ESP aes128-sha256." ;;
	f-*) echo "Main Mode, RSA signatures (certificates from strongSwan pki, in pki/), IKE aes128-sha256-modp2048, ESP aes128-sha256. MM5 (ID CERT SIG CERTREQ N) is larger than 1280 bytes, so strongSwan splits it into two IKE fragments (vendor ID FRAGMENTATION, payload type 132): datagrams 05 and 06." ;;
	g-*) echo "Main Mode, PSK, IKE aes128-sha256-modp2048, ESP aes128-sha256, dpd_delay = 2s: three UDP datagrams through the tunnel (ESP in UDP, not extracted), then DPD R-U-THERE / R-U-THERE-ACK every 2 s, then swanctl --terminate of the child (Delete ESP) and of the IKE SA (Delete ISAKMP)." ;;
	h-*) echo "Main Mode, ECDSA P-256 signatures (certificates from strongSwan pki, in pki/), IKE aes128-sha256-modp2048, ESP aes128-sha256." ;;
	esac
}

# readme NAME writes NAME/README.md from the configuration of the run.
readme() {
	local name=$1 out=$HERE/$1 psk
	psk=$(sed -n 's/^ *secret = "\(.*\)"/\1/p' "$out/initiator.swanctl.conf")
	{
		echo "# strongSwan run $name"
		echo
		describe "$name"
		echo
		echo "strongSwan $(dpkg-query -W -f '${Version}' strongswan-swanctl) (Debian) against itself, made by \`../make-runs.sh $name\`:"
		echo "initiator 192.0.2.1 in netns h4a, responder 192.0.2.2 in netns h4b, over a veth"
		echo "pair; kernel-libipsec plugin (ESP in user space), which forces UDP encapsulation, so"
		echo "charon fakes NAT-D and the exchange floats to port 4500 after message 2 (MM) / 1 (AM)."
		echo
		if [ -n "$psk" ]; then
			echo "Pre-shared key: \`$psk\`"
		else
			echo "Authentication by certificates: pki/ holds the CA, both certificates and their private keys."
		fi
		echo
		echo "Files:"
		echo "- initiator.log, responder.log: charon log at ike=4, chd=4 (SKEYID, SKEYID_d/_a/_e,"
		echo "  Ka, initial IV and every next IV, HASH data, the DH shared secret, nonces, child SA keys)."
		echo "- capture.pcap: everything on the veth (UDP), pcap format."
		echo "- initiator-list-sas.txt, responder-list-sas.txt: swanctl --list-sas after the run."
		echo "- ../../../../isakmp/testdata/captures/strongswan-$name-NN-DIR.bin: every ISAKMP"
		echo "  datagram as raw UDP payload in order (non-ESP marker stripped), DIR i2r = sent by the initiator."
		echo "  The last two or three i2r/r2i Informational ones are the deletes sent when charon stops."
		for side in initiator responder; do
			echo
			echo "## $side.swanctl.conf"
			echo
			echo '```'
			cat "$out/$side.swanctl.conf"
			echo '```'
		done
	} >"$out/README.md"
}

# initiate_child DIR brings up child c of the initiator and waits for it.
initiate_child() {
	swanctl_in "$1/i" --initiate --child c --timeout 20 >"$1/i/initiate.log" 2>&1
	sleep 1
}

# initiate_ping_dpd_delete DIR: child up, a few pings through the ESP tunnel,
# two DPD intervals, then a delete of the child and of the IKE SA.
initiate_ping_dpd_delete() {
	initiate_child "$1"
	# three UDP datagrams through the tunnel (ESP in UDP 4500), no ping on these hosts
	for _ in 1 2 3; do ip netns exec $NSA bash -c "echo h4 >/dev/udp/198.51.100.129/9" || true; sleep 0.3; done
	sleep 7
	swanctl_in "$1/i" --terminate --child c --timeout 10 >"$1/i/terminate-child.log" 2>&1 || true
	sleep 1
	swanctl_in "$1/i" --terminate --ike ike --timeout 10 >"$1/i/terminate-ike.log" 2>&1 || true
	sleep 1
}

# ike_scan runs ike-scan (h4a) against a strongSwan responder (h4b): Main Mode
# with ike-scan's default transforms, Main Mode with AES-128/SHA-256/group 14,
# and Aggressive Mode PSK whose HASH_R psk-crack must crack with the real PSK.
ike_scan() {
	local out=$HERE/ike-scan w=$WORK/ike-scan
	echo "== ike-scan"
	rm -rf "$w"
	mkdir -p "$w/r/swanctl"
	netns_up
	strongswan_conf "$w/r"
	for sub in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey rsa ecdsa bliss pkcs8 pkcs12 private; do mkdir -p "$w/r/swanctl/$sub"; done
	cp "$out/responder.swanctl.conf" "$w/r/swanctl/swanctl.conf"
	start_charon $NSB "$w/r"
	swanctl_in "$w/r" --load-all --file "$w/r/swanctl/swanctl.conf" >"$w/r/load.log"
	: >"$out/ike-scan.txt"
	local scan args
	for scan in mm-default mm-aes128-sha256-modp2048 am-psk; do
		case $scan in
		mm-default) args=(-M) ;;
		mm-aes128-sha256-modp2048) args=(-M --trans=7/128,4,1,14) ;;
		am-psk) args=(-M -A --id=scanner.example --idtype=2 --pskcrack="$w/am-psk.crack") ;;
		esac
		ip netns exec $NSA dumpcap -q -P -i h4a0 -f udp -w "$w/$scan.pcap" >/dev/null 2>&1 &
		local cap=$!
		sleep 1
		{
			echo "\$ ike-scan ${args[*]} 192.0.2.2"
			ip netns exec $NSA ike-scan --retry=1 "${args[@]}" 192.0.2.2 2>&1 | sed "s|$w/||"
			echo
		} >>"$out/ike-scan.txt"
		sleep 1
		kill $cap
		wait $cap 2>/dev/null || true
		cp "$w/$scan.pcap" "$out/$scan.pcap"
		chmod 644 "$out/$scan.pcap"
		extract "$out/$scan.pcap" "$CAPS/ike-scan-$scan"
	done
	cp "$w/am-psk.crack" "$out/am-psk.crack"
	printf 'wrong-guess\nh4-ikescan-am-psk\n' >"$w/words"
	{
		echo "\$ psk-crack -d words am-psk.crack   # words: wrong-guess, h4-ikescan-am-psk"
		psk-crack -d "$w/words" "$w/am-psk.crack" 2>&1 | sed "s|$w/||"
	} >>"$out/ike-scan.txt"
	stop_charon "$w/r"
	cp "$w/r/charon.log" "$out/responder.log"
	ip netns del $NSA
	ip netns del $NSB
}

runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(a-mm-psk-modp2048 b-mm-psk-3des-modp1024-pfs c-mm-psk-ecp256-gcm-pfs d-mm-psk-ecp384 e-am-psk-modp2048 f-mm-rsa-modp2048 g-informational h-mm-ecdsa-modp2048 ike-scan)
for r in "${runs[@]}"; do
	case $r in
	f-*) make_pki "$HERE/$r" rsa 2048 && run "$r" initiate_child ;;
	h-*) make_pki "$HERE/$r" ecdsa 256 && run "$r" initiate_child ;;
	g-*) run "$r" initiate_ping_dpd_delete ;;
	ike-scan) ike_scan ;;
	*) run "$r" initiate_child ;;
	esac
done
