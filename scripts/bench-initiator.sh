#!/usr/bin/env bash
# bench-initiator.sh: iked and strongSwan as IKEv1 initiators of N
# connections at once, against the same responder (docs/performance.md,
# "Initiator side").
#
# Two network namespaces joined by a veth pair: the initiator on
# 192.0.2.1 in one, the responder (strongSwan's charon, or iked) on
# 192.0.2.2 in the other. The initiator has N connections, generated
# here: connection i is a tunnel between 10.1.0.0/16 and 10.2.x.y/32
# (x.y = i), both gateways as above, Main Mode PSK (AES-128, SHA2-256,
# the group GROUP), its own identity (fqdn:c<i>.initiator.example, so
# that neither side takes two connections for one peer), and one Quick
# Mode bundle (ESP AES-128, SHA2-256). All start at once:
#
#   - iked: `initiate: start` on every connection of its policy file; the
#     clock starts when iked is started;
#   - strongSwan: `start_action = start` on every child of its
#     swanctl.conf, loaded into a running charon with `swanctl
#     --load-all`; the clock starts with swanctl.
#
# The figure is the time until the initiator has N IPsec SA bundles up
# (its log lines "IPsec SA established" for iked, "CHILD_SA ...
# established" for charon; and iked's or charon's ISAKMP SA count beside),
# and the initiator process's CPU (utime + stime, all threads, from
# /proc/PID/stat) until then: for iked from its start (policy parsing
# included), for charon from the swanctl load (its own start-up excluded,
# the connections' parsing included). Then its RSS (VmRSS, VmHWM).
#
# Both are set up alike: each logs at its default level (iked info, charon
# filelog default = 1, each line written as it is logged, as iked does) with its default retransmissions and keying tries
# (one try: a connection whose phase 1 fails is not retried), and keeps
# its SAs in user space: this kernel has no ESP, so iked runs engine none
# and charon kernel-libipsec (ESP in user space over a TUN device; the
# route of each tunnel is still installed in the kernel, from a local
# address in the tunnel's local selector: 10.1.0.1 on the initiator's
# loopback, 10.2.x.y on the responder's). The responder's
# half-open limits are lifted as in bench-responder.sh (charon:
# init_limit_half_open, block_threshold, cookie_threshold; iked:
# half-open-max and under-load.half-open), and it uses kernel-libipsec
# (charon) or engine none (iked) too.
#
# Environment: N (10000), GROUP (ecp256; or modp2048), INITIATORS ("iked
# strongswan"), RESPONDER (strongswan; or iked), DEADLINE (seconds to wait
# for all, 900), INITIATE_MAX and INITIATE_PER_PEER (the iked initiator's
# daemon.initiate-max and initiate-per-peer; iked's defaults, 256 and 5,
# when unset), BIN (bin), GO (go), PREFIX (namespace prefix, hbi),
# KEEP=1 keeps the work folder, IKED=PATH runs that iked binary (both
# roles), PROFILE=SECONDS builds iked with -tags pprof and saves a CPU
# profile of the initiator's first SECONDS (KEEP it). Root; needs
# charon-systemd, swanctl and the kernel-libipsec plugin (Debian:
# charon-systemd strongswan-swanctl libstrongswan-standard-plugins
# libcharon-extra-plugins). Nothing leaves the namespaces; the gateways
# are in 192.0.2.0/24, the traffic selectors in 10.0.0.0/8, on no
# interface.
set -euo pipefail

N=${N:-10000}
GROUP=${GROUP:-ecp256}
INITIATORS=${INITIATORS:-iked strongswan}
RESPONDER=${RESPONDER:-strongswan}
DEADLINE=${DEADLINE:-900}
BIN=${BIN:-bin}
GO=${GO:-go}
PREFIX=${PREFIX:-hbi}
NS_I=$PREFIX-ini
NS_R=$PREFIX-resp
ADDR_I=192.0.2.1
ADDR_R=192.0.2.2
PSK="bench-initiator: not a secret"

if [ "$(id -u)" != 0 ]; then
	echo "bench-initiator: needs root (network namespaces)" >&2
	exit 1
fi
for t in ip /usr/sbin/charon-systemd swanctl; do
	command -v "$t" >/dev/null || {
		echo "bench-initiator: $t missing (Debian: iproute2 charon-systemd strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins)" >&2
		exit 1
	}
done
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || {
	echo "bench-initiator: strongSwan's kernel-libipsec plugin missing (Debian: libcharon-extra-plugins)" >&2
	exit 1
}
[ "$N" -ge 1 ] && [ "$N" -le 65536 ] || { echo "bench-initiator: N from 1 to 65536" >&2; exit 1; }
case $GROUP in
ecp256 | modp2048) ;;
*) echo "bench-initiator: GROUP ecp256 or modp2048" >&2; exit 1 ;;
esac

mkdir -p "$BIN"
command -v "$GO" >/dev/null || PATH=/usr/local/go/bin:$PATH
if [ -z "${IKED:-}" ]; then
	"$GO" build ${PROFILE:+-tags pprof} -o "$BIN/iked" ./cmd/iked
fi
"$GO" build -o "$BIN/ikectl" ./cmd/ikectl
BIN=$(cd "$BIN" && pwd)
IKED=${IKED:-$BIN/iked}

WORK=$(mktemp -d /tmp/bench-initiator-XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns del "$NS_I" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work folder kept: $WORK"; fi
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", (b - a) / 1e9}'; }
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

netns_up() {
	ip netns del "$NS_I" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	ip netns add "$NS_I"
	ip netns add "$NS_R"
	ip link add "$PREFIX-i0" netns "$NS_I" type veth peer name "$PREFIX-r0" netns "$NS_R"
	ip -n "$NS_I" addr add $ADDR_I/24 dev "$PREFIX-i0"
	ip -n "$NS_R" addr add $ADDR_R/24 dev "$PREFIX-r0"
	for ns in "$NS_I" "$NS_R"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_I" link set "$PREFIX-i0" up
	ip -n "$NS_R" link set "$PREFIX-r0" up
	# kernel-libipsec routes each tunnel from an address of its local
	# selector (and fails the CHILD_SA without one)
	ip -n "$NS_I" addr add 10.1.0.1/32 dev lo
	awk -v n="$N" 'BEGIN {for (i = 0; i < n; i++) printf "addr add 10.2.%d.%d/32 dev lo\n", int(i / 256) % 256, i % 256}' |
		ip -n "$NS_R" -batch -
}

# strongswan_conf DIR: charon's strongswan.conf (log at the default
# level, kernel-libipsec, half-open limits lifted, a table for N SAs).
strongswan_conf() {
	cat >"$1/strongswan.conf" <<-CONF
	charon-systemd {
	  journal { default = -1 }
	  filelog { main { path = $1/charon.log
	                   default = 1
	                   flush_line = yes
	                   time_format = %b %e %T } }
	  plugins {
	    include /etc/strongswan.d/charon/*.conf
	    vici { socket = unix://$1/vici }
	    kernel-libipsec { load = yes }
	  }
	  init_limit_half_open = 0
	  init_limit_job_load = 0
	  block_threshold = 1000000
	  cookie_threshold = 1000000
	  ikesa_table_size = 4096
	  ikesa_table_segments = 16
	}
	swanctl { socket = unix://$1/vici }
	CONF
}

start_charon() { # NS DIR
	STRONGSWAN_CONF=$2/strongswan.conf ip netns exec "$1" /usr/sbin/charon-systemd >"$2/out" 2>&1 &
	CHARON_PID=$!
	PIDS+=("$CHARON_PID")
	for _ in $(seq 100); do [ -S "$2/vici" ] && break; sleep 0.1; done
	[ -S "$2/vici" ] || { cat "$2/out"; exit 1; }
}

swanctl_load() { # DIR
	STRONGSWAN_CONF=$1/strongswan.conf swanctl --load-all --noprompt --file "$1/swanctl.conf" >"$1/load.out" 2>&1 ||
		{ tail -5 "$1/load.out"; return 1; }
}

iked_daemon() { # DIR LISTEN
	cat <<-CONF
	daemon:
	  listen: ["$2"]
	  engine: none
	  control-socket: $1/iked.sock
	  half-open-max: 1048576
	  under-load: {half-open: 1048576}
	  log: {level: info}
	transforms:
	  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [$GROUP]}
	  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
	proposals:
	  esp: [esp]
	proposal-lists:
	  qm: [esp]
	connections:
	CONF
}

start_iked() { # NS DIR
	chmod 600 "$2/iked.yaml"
	IKED_PPROF=${PPROF:-} ip netns exec "$1" "$IKED" -config "$2/iked.yaml" >"$2/out" 2>&1 &
	IKED_PID=$!
	PIDS+=("$IKED_PID")
}

wait_socket() { # PATH OUT
	for _ in $(seq 600); do [ -S "$1" ] && return 0; sleep 0.1; done
	cat "$2"
	exit 1
}

# The responder: one connection for every initiator's connection.
RESP_PID=
responder_up() {
	local d=$WORK/resp
	rm -rf "$d"
	mkdir -p "$d"
	case $RESPONDER in
	strongswan)
		strongswan_conf "$d"
		cat >"$d/swanctl.conf" <<-CONF
		connections {
		  r {
		    version = 1
		    local_addrs = $ADDR_R
		    remote_addrs = $ADDR_I
		    proposals = aes128-sha256-$GROUP
		    unique = never
		    local { auth = psk
		            id = $ADDR_R }
		    remote { auth = psk }
		    children { c { local_ts = 10.2.0.0/16
		                   remote_ts = 10.1.0.0/16
		                   esp_proposals = aes128-sha256 } }
		  }
		}
		secrets { ike-1 { secret = "$PSK" } }
		CONF
		start_charon "$NS_R" "$d"
		swanctl_load "$d"
		RESP_PID=$CHARON_PID
		;;
	iked)
		{
			iked_daemon "$d" $ADDR_R
			cat <<-CONF
			  r:
			    local-address: 10.2.0.0/16
			    remote-address: 10.1.0.0/16
			    local-gw: $ADDR_R
			    remote-gw: $ADDR_I
			    initiate: never
			    proposal-list: qm
			    ike: {transforms: [ike], psk: "$PSK"}
			CONF
		} >"$d/iked.yaml"
		PPROF='' start_iked "$NS_R" "$d"
		wait_socket "$d/iked.sock" "$d/out"
		RESP_PID=$IKED_PID
		;;
	*)
		echo "bench-initiator: RESPONDER strongswan or iked" >&2
		exit 1
		;;
	esac
}

iked_initiator_conf() { # DIR
	iked_daemon "$1" $ADDR_I | awk -v m="${INITIATE_MAX:-}" -v p="${INITIATE_PER_PEER:-}" '
		{print}
		/^  log:/ {
			if (m != "") print "  initiate-max: " m
			if (p != "") print "  initiate-per-peer: " p
		}'
	awk -v n="$N" -v psk="$PSK" -v li="$ADDR_I" -v lr="$ADDR_R" 'BEGIN {
		for (i = 0; i < n; i++) {
			x = int(i / 256) % 256; y = i % 256
			printf "  c%d:\n    local-address: 10.1.0.0/16\n    remote-address: 10.2.%d.%d/32\n", i, x, y
			printf "    local-gw: %s\n    remote-gw: %s\n    initiate: start\n    proposal-list: qm\n", li, lr
			printf "    ike: {transforms: [ike], psk: \"%s\", local-id: \"fqdn:c%d.initiator.example\"}\n", psk, i
		}
	}'
}

swanctl_initiator_conf() {
	awk -v n="$N" -v psk="$PSK" -v li="$ADDR_I" -v lr="$ADDR_R" -v g="$GROUP" 'BEGIN {
		print "connections {"
		for (i = 0; i < n; i++) {
			x = int(i / 256) % 256; y = i % 256
			printf "  c%d {\n    version = 1\n    local_addrs = %s\n    remote_addrs = %s\n", i, li, lr
			printf "    proposals = aes128-sha256-%s\n", g
			printf "    local { auth = psk\n            id = c%d.initiator.example }\n", i
			printf "    remote { auth = psk\n             id = %s }\n", lr
			printf "    children { c { local_ts = 10.1.0.0/16\n"
			printf "                   remote_ts = 10.2.%d.%d/32\n", x, y
			printf "                   esp_proposals = aes128-sha256\n                   start_action = start } }\n  }\n"
		}
		print "}"
		printf "secrets { ike-1 { secret = \"%s\" } }\n", psk
	}'
}

results=()
# measure NAME PID T0 CPU0 LOG PATTERN: waits until LOG holds N lines
# matching PATTERN (or DEADLINE), then reads the PID's CPU and RSS.
measure() {
	local name=$1 pid=$2 t0=$3 c0=$4 log=$5 pat=$6 n=0 el marks="" half="" ninety="" rss=0 v
	while :; do
		n=$(count "$log" "$pat")
		el=$(since "$t0")
		v=$(kib "$pid" VmRSS)
		[ "${v:-0}" -gt "$rss" ] && rss=$v
		[ -z "$half" ] && [ "$n" -ge $((N / 2)) ] && half=$el
		[ -z "$ninety" ] && [ "$n" -ge $((N * 9 / 10)) ] && ninety=$el
		[ "$n" -ge "$N" ] && break
		if awk -v e="$el" -v d="$DEADLINE" 'BEGIN {exit !(e > d)}'; then break; fi
		kill -0 "$pid" 2>/dev/null || { echo "bench-initiator: $name died" >&2; break; }
		sleep 0.5
	done
	local cpu
	cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$pid")" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
	local rcpu
	rcpu=$(awk -v a="$RESP_C0" -v b="$(cpu_ticks "$RESP_PID")" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
	local hwm
	hwm=$(kib "$pid" VmHWM)
	results+=("$(printf '%-10s %6s/%-6s %8s %8s %8s %9s %9s %9s %9s %s' "$name" "$n" "$N" "${half:--}" "${ninety:--}" "$el" "$cpu" \
		"$(awk -v c="$cpu" -v n="$n" 'BEGIN {if (n > 0) printf "%.2f", c * 1000 / n; else print "-"}')" \
		"$((rss / 1024))" "$((hwm / 1024))" "$rcpu; load $(load)")")
	echo "${results[-1]}"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r)"
echo "# strongSwan $(dpkg-query -W -f '${Version}' charon-systemd 2>/dev/null || echo "?"), iked $(git describe --always --dirty 2>/dev/null || echo dev)"
echo "# N=$N connections started at once, Main Mode PSK aes128-sha256-$GROUP + one Quick Mode (tunnel, aes128-sha256) each; responder $RESPONDER"
for ini in $INITIATORS; do
	netns_up
	responder_up
	d=$WORK/$ini
	mkdir -p "$d"
	sleep 0.5
	echo "# $ini: load $(load)"
	case $ini in
	iked)
		iked_initiator_conf "$d" >"$d/iked.yaml"
		RESP_C0=$(cpu_ticks "$RESP_PID")
		t0=$(now)
		PPROF=${PROFILE:+127.0.0.1:6061} start_iked "$NS_I" "$d"
		INI_PID=$IKED_PID
		if [ -n "${PROFILE:-}" ]; then
			wait_socket "$d/iked.sock" "$d/out"
			ip netns exec "$NS_I" curl -s -o "$WORK/initiator.pprof" \
				"http://127.0.0.1:6061/debug/pprof/profile?seconds=$PROFILE" &
		fi
		measure iked "$IKED_PID" "$t0" 0 "$d/out" "IPsec SA established"
		"$BIN/ikectl" -socket "$d/iked.sock" -timeout 60s status >"$d/status.out" 2>&1 || true
		echo "  iked: $(grep -i -m3 'isakmp\|half' "$d/status.out" | tr -s ' \n' ' '); 'connection failed' lines $(count "$d/out" 'connection failed'); warnings $(count "$d/out" '"level":"warn"\|WARN')"
		;;
	strongswan)
		strongswan_conf "$d"
		swanctl_initiator_conf >"$d/swanctl.conf"
		start_charon "$NS_I" "$d"
		INI_PID=$CHARON_PID
		RESP_C0=$(cpu_ticks "$RESP_PID")
		c0=$(cpu_ticks "$CHARON_PID")
		t0=$(now)
		swanctl_load "$d" &
		PIDS+=($!)
		measure strongswan "$CHARON_PID" "$t0" "$c0" "$d/charon.log" "CHILD_SA c{[0-9]*} established"
		echo "  charon: IKE_SAs established $(count "$d/charon.log" 'IKE_SA c[0-9]*\[[0-9]*\] established'); 'giving up' lines $(count "$d/charon.log" 'giving up'); load-all: $(tail -1 "$d/load.out")"
		;;
	*)
		echo "bench-initiator: unknown initiator $ini" >&2
		exit 1
		;;
	esac
	# Stopping: each initiator deletes its SAs (Delete to the peer).
	t1=$(now)
	kill "$INI_PID" 2>/dev/null || true
	wait "$INI_PID" 2>/dev/null || true
	echo "  $ini stopped in $(since "$t1") s"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	PIDS=()
done
echo
echo "initiator  up/N           50%(s)   90%(s)  all(s)   cpu(s) ms/conn  RSS(MiB) peak(MiB) responder cpu(s)"
echo "(up: IPsec SA bundles established; times from the start; cpu: the initiator's, until then)"
printf '%s\n' "${results[@]}"
