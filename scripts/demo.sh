#!/usr/bin/env bash
# demo.sh: iked negotiating IKEv1 with strongSwan, for real, on one machine.
#
# Two network namespaces joined by a veth pair with documentation
# addresses: iked on 192.0.2.1 (LAN 198.51.100.0/24), strongSwan's charon
# on 192.0.2.2 (LAN 203.0.113.0/24). strongSwan initiates Main Mode with a
# pre-shared key and Quick Mode, then iked initiates (`ikectl initiate`);
# after each, both sides print their SAs (`swanctl --list-sas`, `ikectl
# list-sas`). ike-scan, if installed, asks iked for a proposal. iked runs
# with engine none (its IPsec SAs stay in the daemon), strongSwan with
# kernel-libipsec (ESP in user space), so the demo needs no kernel ESP.
# Everything is removed on exit.
#
# Run as root: `make demo` (builds first) or scripts/demo.sh with BIN set to
# the folder holding iked and ikectl. Installs strongSwan with apt-get when
# it is missing. Nothing leaves the namespaces.
set -euo pipefail

BIN=${BIN:-bin}
PREFIX=${DEMO_PREFIX:-ikeddemo}
NS_IKED=$PREFIX-iked
NS_SWAN=$PREFIX-swan
IKED_ADDR=192.0.2.1
SWAN_ADDR=192.0.2.2
PSK="demo: use a long random string in real life"

say() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, UDP 500)" >&2
	exit 1
fi

# What the demo runs, from Debian's packages: strongSwan 5.9 with IKEv1
# (libstrongswan-standard-plugins is only recommended, and its openssl
# plugin gives the ECP groups; kernel-libipsec is in
# libcharon-extra-plugins), iproute2 for the namespaces, ike-scan.
need=()
[ -x /usr/sbin/charon-systemd ] || need+=(charon-systemd)
[ -x /usr/sbin/swanctl ] || need+=(strongswan-swanctl)
[ -e /usr/lib/ipsec/plugins/libstrongswan-openssl.so ] || need+=(libstrongswan-standard-plugins)
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || need+=(libcharon-extra-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v ike-scan >/dev/null || need+=(ike-scan)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates) # Go's module downloads
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" ||
		{ apt-get update && apt-get install -y --no-install-recommends "${need[@]}"; }
	# The package may enable a system-wide service; the demo runs its own charon.
	systemctl disable --now strongswan 2>/dev/null || true
fi

# BUILD=1 (make demo) builds always; otherwise only when a binary is missing.
if [ -n "${BUILD:-}" ] || [ ! -x "$BIN/iked" ] || [ ! -x "$BIN/ikectl" ]; then
	say "building iked and ikectl into $BIN"
	mkdir -p "$BIN"
	GO=${GO:-go}
	command -v "$GO" >/dev/null || PATH=/usr/local/go/bin:$PATH
	"$GO" build -ldflags "${LDFLAGS:-}" -o "$BIN/iked" ./cmd/iked
	"$GO" build -ldflags "${LDFLAGS:-}" -o "$BIN/ikectl" ./cmd/ikectl
fi
BIN=$(cd "$BIN" && pwd)

dir=$(mktemp -d /tmp/iked-demo.XXXXXX)
iked_pid=
charon_pid=
cleanup() {
	set +e
	[ -n "$iked_pid" ] && kill -TERM "$iked_pid" 2>/dev/null && wait "$iked_pid" 2>/dev/null
	[ -n "$charon_pid" ] && kill -TERM "$charon_pid" 2>/dev/null && wait "$charon_pid" 2>/dev/null
	ip netns del "$NS_IKED" 2>/dev/null
	ip netns del "$NS_SWAN" 2>/dev/null
	if [ -n "${KEEP_LOGS:-}" ]; then
		echo "demo: logs kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

say "two namespaces: $NS_IKED ($IKED_ADDR) <-> $NS_SWAN ($SWAN_ADDR)"
for ns in "$NS_IKED" "$NS_SWAN"; do
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n "$NS_IKED" link add "${PREFIX:0:8}0" type veth peer name "${PREFIX:0:8}1" netns "$NS_SWAN"
ip -n "$NS_IKED" addr add $IKED_ADDR/24 dev "${PREFIX:0:8}0"
ip -n "$NS_SWAN" addr add $SWAN_ADDR/24 dev "${PREFIX:0:8}1"
ip -n "$NS_IKED" link set "${PREFIX:0:8}0" up
ip -n "$NS_SWAN" link set "${PREFIX:0:8}1" up
ip -n "$NS_IKED" addr add 198.51.100.1/32 dev lo
ip -n "$NS_SWAN" addr add 203.0.113.1/32 dev lo

# iked's policy: engine none keeps the SAs in the daemon (this kernel may
# have no ESP); see docs/policy-file.md and examples/.
cat >"$dir/iked.yaml" <<EOF
daemon:
  listen: ["$IKED_ADDR"]
  engine: none
  control-socket: $dir/iked.sock
  dpd: {delay: 10s, timeout: 30s}
  log: {level: info, format: console}
transforms:
  ike:
    protocol: isakmp
    ciphers: [aes256, aes128]
    hashes: [sha256]
    groups: [modp2048, ecp256]
  esp:
    protocol: esp
    ciphers: [aes128]
    hmacs: [sha256]
proposals:
  esp: [esp]
proposal-lists:
  default: [esp]
connections:
  swan:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    local-gw: $IKED_ADDR
    remote-gw: $SWAN_ADDR
    initiate: never
    ike:
      mode: main
      transforms: [ike]
      auth: psk
      psk: "$PSK"
      local-id: "ipv4:$IKED_ADDR"
      remote-id: "ipv4:$SWAN_ADDR"
    proposal-list: default
    pfs: none
    lifetime: 1h
EOF
chmod 600 "$dir/iked.yaml"

# strongSwan's side: its own strongswan.conf (own vici socket and log),
# swanctl.conf with the matching IKEv1 connection.
for d in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12 conf.d; do
	mkdir -p "$dir/swan/swanctl/$d"
done
cat >"$dir/swan/strongswan.conf" <<EOF
charon-systemd {
  journal { default = -1 }
  filelog { main { path = $dir/swan/charon.log
                   default = 1
                   ike = 2
                   time_format = %T } }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://$dir/swan/vici }
    # ESP in user space: kernels without ESP (CONFIG_INET_ESP off) still
    # get strongSwan's CHILD_SA installed; it always encapsulates in UDP.
    kernel-libipsec { load = yes }
  }
  retransmit_timeout = 1.0
  retransmit_tries = 3
}
# swanctl loads only what reading credentials needs, not its compiled-in
# list (which names plugins Debian ships in packages the demo has no use for).
swanctl {
  socket = unix://$dir/swan/vici
  load = pem pkcs1 pkcs8 x509 pubkey random nonce openssl
}
EOF
cat >"$dir/swan/swanctl/swanctl.conf" <<EOF
connections {
  iked {
    version = 1
    local_addrs = $SWAN_ADDR
    remote_addrs = $IKED_ADDR
    proposals = aes256-sha256-modp2048
    dpd_delay = 10s
    local { auth = psk
            id = $SWAN_ADDR }
    remote { auth = psk
             id = $IKED_ADDR }
    children {
      net { local_ts = 203.0.113.0/24
            remote_ts = 198.51.100.0/24
            esp_proposals = aes128-sha256 }
    }
  }
}
secrets {
  ike-iked { id-1 = $IKED_ADDR
             id-2 = $SWAN_ADDR
             secret = "$PSK" }
}
EOF
swanctl() {
	STRONGSWAN_CONF=$dir/swan/strongswan.conf SWANCTL_DIR=$dir/swan/swanctl /usr/sbin/swanctl "$@"
}
ikectl() { "$BIN/ikectl" -socket "$dir/iked.sock" "$@"; }

say "iked -check"
"$BIN/iked" -check -config "$dir/iked.yaml"

say "starting iked in $NS_IKED"
ip netns exec "$NS_IKED" "$BIN/iked" -config "$dir/iked.yaml" >"$dir/iked.log" 2>&1 &
iked_pid=$!
for _ in $(seq 100); do [ -S "$dir/iked.sock" ] && break; sleep 0.1; done
ikectl status
ip netns exec "$NS_IKED" ss -ulpn | grep -E 'iked|State' || true

say "starting strongSwan's charon in $NS_SWAN"
STRONGSWAN_CONF=$dir/swan/strongswan.conf ip netns exec "$NS_SWAN" /usr/sbin/charon-systemd >/dev/null 2>&1 &
charon_pid=$!
for _ in $(seq 100); do [ -S "$dir/swan/vici" ] && break; sleep 0.1; done
swanctl --load-all --noprompt --file "$dir/swan/swanctl/swanctl.conf"

if command -v ike-scan >/dev/null; then
	say "ike-scan -M --trans=7/256,4,1,14 $IKED_ADDR (AES-256, SHA2-256, PSK, MODP-2048; a second IKEv1 client asks iked for a proposal)"
	# --sport=0: charon holds UDP 500 in that namespace.
	ip netns exec "$NS_SWAN" ike-scan -M --retry=2 --sport=0 --trans=7/256,4,1,14 $IKED_ADDR || true
	echo "(ike-scan stops after iked's answer: iked lists that SA as half-open until it expires)"
fi

# wait_ike STATE: wait up to 15 s for strongSwan's IKE SA to reach STATE.
wait_ike() {
	for _ in $(seq 150); do
		swanctl --list-sas --ike iked 2>/dev/null | grep -q "$1" && return 0
		sleep 0.1
	done
	return 1
}

show() {
	say "strongSwan: swanctl --list-sas"
	swanctl --list-sas
	say "iked: ikectl list-sas"
	ikectl list-sas
	if ! swanctl --list-sas | grep -q INSTALLED; then
		echo
		echo "note: strongSwan has no CHILD_SA (IPsec SA) installed; its log says why:"
		grep -E 'CHILD_SA|SAD|Quick|QUICK' "$dir/swan/charon.log" | tail -5
	fi
}

say "strongSwan initiates Main Mode (swanctl --initiate)"
swanctl --initiate --child net --timeout 3 || true
if wait_ike ESTABLISHED; then
	show
else
	echo "demo: strongSwan's IKE SA did not reach ESTABLISHED"
	show
fi

say "strongSwan deletes its IKE SA; then iked initiates (ikectl initiate swan)"
first=$(swanctl --list-sas --ike iked | awk '/ESTABLISHED/ {sub("_i\\*?", "", $5); print $5; exit}')
swanctl --terminate --ike iked --timeout 5 || true
sleep 1
if [ -n "$first" ] && ikectl list-sas | grep -q "$first:"; then
	echo "note: iked still lists SA $first: it does not act on strongSwan's DELETE yet"
	echo "      (the informational exchange is not wired into the daemon)."
fi
if ikectl initiate swan; then
	if wait_ike ESTABLISHED; then
		show
	else
		echo "demo: the IKE SA iked initiated did not reach ESTABLISHED"
		show
	fi
fi

say "iked's log"
cat "$dir/iked.log"
say "done; cleaning up (namespaces, daemons, $dir)"
