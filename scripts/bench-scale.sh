#!/usr/bin/env bash
# bench-scale.sh: iked as a responder holding many SAs, and under a table
# of half-open SAs (docs/performance.md, "Memory at scale").
#
# Two network namespaces joined by a veth pair, as bench-responder.sh:
# ikeload (cmd/ikeload) in one, iked (engine none) on 192.0.2.2 in the
# other.
#
# 1. Scale: ikeload opens N Main Mode PSK ECP256 ISAKMP SAs, each with one
#    Quick Mode bundle, from SOURCES addresses times PORTS source ports
#    (clients behind NATs), C at a time, and holds them. While they are
#    held the script reads iked's RSS (VmRSS, VmHWM) and times
#    `ikectl list-sas` and `ikectl status`; then ikeload stops (Deletes
#    for every SA) and the script counts iked's message 70 lines (engine
#    queue full, deletes dropped) and the CPU of the Deletes.
# 2. Half-open: a fresh iked (half-open-lifetime 5m, so that they stay); LEGIT legitimate SA pairs (ikeload, C_LEGIT
#    at a time) give the latency p50/p99 on an empty table; then ikeload
#    -half-open opens HALF half-open SAs (first messages only, from
#    HALF_SOURCES other addresses) and, while iked holds them (its RSS
#    before and after gives the memory per half-open SA), the same
#    legitimate run again.
#
# Environment: N (20000), C (200), SOURCES (50), PORTS (20: one
# initiating daemon per address and port, N/(SOURCES*PORTS) SAs each), HOLD (the seconds ikeload
# holds the SAs, 120; at least SETTLE plus the ikectl runs), SETTLE (20), LEGIT (500), C_LEGIT (10), HALF (4096),
# HALF_SOURCES (40), PARTS ("scale halfopen"), BIN (bin), GO (go),
# PREFIX (namespace prefix, hsc), KEEP=1 keeps the work folder,
# IKED=PATH runs that iked binary; PROFILE=1 builds iked with -tags pprof
# and saves a heap profile while the SAs are held (KEEP it);
# IKED_GOMEMLIMIT=900MiB runs iked (only) with that Go soft memory limit;
# IKELOAD_FLAGS adds flags to every ikeload run (e.g. -initial-contact);
# STOP_HELD=1 stops iked (SIGTERM) while it holds the SAs, timed, instead
# of letting ikeload delete them. Root; every address is from
# 192.0.2.0/24 and nothing leaves the namespaces.
set -euo pipefail

N=${N:-20000}
C=${C:-200}
SOURCES=${SOURCES:-50}
PORTS=${PORTS:-20}
HOLD=${HOLD:-120}
SETTLE=${SETTLE:-20}
LEGIT=${LEGIT:-500}
C_LEGIT=${C_LEGIT:-10}
HALF=${HALF:-4096}
HALF_SOURCES=${HALF_SOURCES:-40}
PARTS=${PARTS:-scale halfopen}
BIN=${BIN:-bin}
GO=${GO:-go}
PREFIX=${PREFIX:-hsc}
NS_I=$PREFIX-ini
NS_R=$PREFIX-resp
ADDR_R=192.0.2.2
PSK="bench-scale: not a secret"

if [ "$(id -u)" != 0 ]; then
	echo "bench-scale: needs root (network namespaces)" >&2
	exit 1
fi
[ $((100 + SOURCES - 1)) -le 199 ] || { echo "bench-scale: SOURCES at most 100" >&2; exit 1; }
[ $((200 + HALF_SOURCES - 1)) -le 254 ] || { echo "bench-scale: HALF_SOURCES at most 55" >&2; exit 1; }
[ $((10000 + PORTS)) -le 65535 ] || { echo "bench-scale: PORTS at most 55535" >&2; exit 1; }

mkdir -p "$BIN"
command -v "$GO" >/dev/null || PATH=/usr/local/go/bin:$PATH
[ -n "${IKED:-}" ] || "$GO" build ${PROFILE:+-tags pprof} -o "$BIN/iked" ./cmd/iked
"$GO" build -o "$BIN/ikeload" ./cmd/ikeload
"$GO" build -o "$BIN/ikectl" ./cmd/ikectl
BIN=$(cd "$BIN" && pwd)
IKED=${IKED:-$BIN/iked}

WORK=$(mktemp -d /tmp/bench-scale-XXXXXX)
RESP_PID=
LOADS=()
# stop_load PID: a background `ikeload` (a subshell running the function
# below): the ikeload process it runs, then the subshell.
stop_load() {
	pkill -TERM -P "$1" 2>/dev/null || true
	kill "$1" 2>/dev/null || true
}
cleanup() {
	for p in "${LOADS[@]}"; do stop_load "$p"; done
	[ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null
	ip netns del "$NS_I" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work folder kept: $WORK"; fi
}
trap cleanup EXIT

ip netns del "$NS_I" 2>/dev/null || true
ip netns del "$NS_R" 2>/dev/null || true
ip netns add "$NS_I"
ip netns add "$NS_R"
ip link add "$PREFIX-i0" netns "$NS_I" type veth peer name "$PREFIX-r0" netns "$NS_R"
ip -n "$NS_I" addr add 192.0.2.1/24 dev "$PREFIX-i0"
ip -n "$NS_R" addr add $ADDR_R/24 dev "$PREFIX-r0"
for ns in "$NS_I" "$NS_R"; do ip -n "$ns" link set lo up; done
ip -n "$NS_I" link set "$PREFIX-i0" up
ip -n "$NS_R" link set "$PREFIX-r0" up

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
jnum() { awk -F'[:,]' -v k="\"$2\"" '$1 ~ k {gsub(/ /, "", $2); print $2; exit}' "$1"; }
jlat() { awk -v k="\"$2\"" '/"latency_ms"/ {f=1} f && $1 ~ k {gsub(/[ ,]/, "", $2); print $2; exit}' FS=: "$1"; }
# secs OUT CMD...: the wall time of CMD in seconds (3 decimals), its
# output in OUT
secs() {
	local t0 t1 out=$1
	shift
	t0=$(date +%s%N)
	"$@" >"$out" || echo "bench-scale: $* failed" >&2
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}'
}

# sas_held: the ISAKMP SAs iked holds (ikectl status).
# Empty when iked does not answer within 30 s (busy with a burst).
sas_held() { "$BIN/ikectl" -socket "$WORK/iked/iked.sock" -timeout 30s -json status 2>/dev/null | awk -F'[:,]' '/"isakmp_sas"/ {gsub(/ /, "", $2); print $2; exit}'; }

start_iked() {
	local d=$WORK/iked
	rm -rf "$d"
	mkdir -p "$d"
	cat >"$d/iked.yaml" <<-CONF
	daemon:
	  listen: ["$ADDR_R"]
	  natt-port: 0
	  engine: none
	  control-socket: $d/iked.sock
	  half-open-max: 1048576
	  half-open-lifetime: 5m
	  log: {level: info}
	transforms:
	  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [ecp256]}
	  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
	proposals:
	  esp: [esp]
	proposal-lists:
	  qm: [esp]
	connections:
	  clients:
	    local-address: $ADDR_R
	    initiate: never
	    proposal-list: qm
	    ike: {mode: main, transforms: [ike], auth: psk, psk: "$PSK"}
	CONF
	chmod 600 "$d/iked.yaml"
	"$IKED" -check -config "$d/iked.yaml" >"$d/check.out" 2>&1 || { cat "$d/check.out"; exit 1; }
	IKED_PPROF=${PROFILE:+127.0.0.1:6060} ip netns exec "$NS_R" env ${IKED_GOMEMLIMIT:+GOMEMLIMIT=$IKED_GOMEMLIMIT} "$IKED" -config "$d/iked.yaml" >"$d/out" 2>&1 &
	RESP_PID=$!
	for _ in $(seq 100); do [ -S "$d/iked.sock" ] && break; sleep 0.1; done
	[ -S "$d/iked.sock" ] || { cat "$d/out"; exit 1; }
	CTL=("$BIN/ikectl" -socket "$d/iked.sock" -timeout 10m)
	sleep 0.5
}

stop_iked() {
	kill "$RESP_PID" 2>/dev/null || true
	wait "$RESP_PID" 2>/dev/null || true
	RESP_PID=
}

# probe_status FILE: time `ikectl status` every 50 ms until killed, one
# line of milliseconds per answer in FILE.
probe_status() {
	: >"$1"
	while :; do
		local t0
		t0=$(date +%s%N)
		"${CTL[@]}" status >/dev/null 2>&1 || true
		echo $((($(date +%s%N) - t0) / 1000000)) >>"$1"
		sleep 0.05
	done
}

# ikeload ARGS...: ikeload in the initiators' namespace, defaults shared
# by every run.
ikeload() {
	# shellcheck disable=SC2086 # IKELOAD_FLAGS: words
	"$BIN/ikeload" -netns "$NS_I" -dev "$PREFIX-i0" -target $ADDR_R -group ecp256 -psk "$PSK" -workers 1 -json ${IKELOAD_FLAGS:-} "$@"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r), iked $(git describe --always --dirty 2>/dev/null || echo dev)"

scale() {
	start_iked
	local json=$WORK/scale.json rss0 before t0 held=
	rss0=$(kib "$RESP_PID" VmRSS)
	before=$(cpu_ticks "$RESP_PID")
	echo "# scale: N=$N SA pairs (Main Mode PSK ECP256 + one Quick Mode bundle each), C=$C, $SOURCES addresses x $PORTS ports; load $(load)"
	t0=$(date +%s%N)
	ikeload -source "192.0.2.100-192.0.2.$((100 + SOURCES - 1))" -sport 10000 -ports "$PORTS" \
		-n "$N" -c "$C" -retransmit 5s -tries 4 -hold "${HOLD}s" >"$json" 2>"$json.err" &
	LOADS+=($!)
	local lp=$!
	while kill -0 "$lp" 2>/dev/null; do
		if grep -q holding "$json.err"; then held=1; break; fi
		sleep 1
	done
	[ -n "$held" ] || { wait "$lp" || true; cat "$json.err" "$json"; echo "bench-scale: ikeload ended before holding" >&2; return 1; }
	local up cpu rss hwm ls_s ls_n st_s lsj_s
	up=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
	cpu=$(awk -v a="$before" -v b="$(cpu_ticks "$RESP_PID")" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
	echo "  all up after ${up}s; iked CPU ${cpu}s; RSS $(($(kib "$RESP_PID" VmRSS) / 1024)) MiB; load $(load)"
	# The exchanges just finished linger a while for retransmissions:
	# the RSS that stays is read SETTLE seconds later.
	sleep "$SETTLE"
	rss=$(kib "$RESP_PID" VmRSS)
	hwm=$(kib "$RESP_PID" VmHWM)
	echo "  ${SETTLE}s later: iked RSS $((rss / 1024)) MiB (empty $((rss0 / 1024)) MiB, peak $((hwm / 1024)) MiB): $(awk -v a="$rss0" -v b="$rss" -v n="$N" 'BEGIN {printf "%.1f", (b - a) * 1024 / n}') bytes per SA pair"
	"${CTL[@]}" status >"$WORK/status.out" 2>&1 || true
	if [ -n "${PROFILE:-}" ]; then
		ip netns exec "$NS_R" curl -s -o "$WORK/heap.pprof" "http://127.0.0.1:6060/debug/pprof/heap?gc=1" || true
	fi
	st_s=$(secs /dev/null "${CTL[@]}" status)
	# While the listings run, `ikectl status` (an answer from iked's
	# loop) is timed over and over: its slowest answer bounds how long
	# the listings kept the loop from IKE traffic.
	probe_status "$WORK/probe" &
	local probe=$!
	ls_s=$(secs "$WORK/list.out" "${CTL[@]}" list-sas)
	lsj_s=$(secs "$WORK/list.json" "${CTL[@]}" -json list-sas)
	kill "$probe" 2>/dev/null || true
	wait "$probe" 2>/dev/null || true
	echo "  ikectl status ${st_s}s; ikectl list-sas ${ls_s}s ($(wc -l <"$WORK/list.out") lines); ikectl -json list-sas ${lsj_s}s ($(($(wc -c <"$WORK/list.json") / 1048576)) MiB); load $(load)"
	echo "  ikectl status during the listings: $(sort -n "$WORK/probe" | awk '{a[NR] = $1} END {printf "%d answers, median %d ms, slowest %d ms", NR, a[int((NR + 1) / 2)], a[NR]}')"
	rm -f "$WORK/list.out" "$WORK/list.json"
	if [ -n "${STOP_HELD:-}" ]; then
		# Stop iked while it holds every SA: it sends each peer its
		# Deletes and leaves the engine's flush to its Detach.
		local s0 s1 m70
		s0=$(date +%s%N)
		stop_iked
		s1=$(date +%s%N)
		m70=$(grep -c 'queue full, important packet dropped' "$WORK/iked/out" || true)
		echo "  iked stopped holding them: $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')s; message 70 lines: $m70; shutdown line: $(grep 'deleted at shutdown' "$WORK/iked/out" | tail -1 | grep -o 'count.*'); load $(load)"
		stop_load "$lp"
		wait "$lp" || true
		return
	fi
	local mid
	mid=$(cpu_ticks "$RESP_PID")
	wait "$lp" || true
	local t1
	t1=$(date +%s%N)
	# The Deletes reach iked as ikeload stops: wait until the SAs it holds
	# stop falling for 10 s (or none is left, or 10 minutes passed). A
	# status that gets no answer in its 30 s (iked busy with the Deletes)
	# counts as still falling.
	local left prev=-1 same=0 last t_end=$((SECONDS + 600))
	while [ "$SECONDS" -lt "$t_end" ]; do
		left=$(sas_held || true)
		[ "$left" = 0 ] && break
		[ -z "$left" ] && { prev=-1; same=0; continue; }
		if [ "$left" = "$prev" ]; then same=$((same + 1)); else same=0; fi
		[ "$same" -ge 5 ] && break
		prev=$left
		sleep 2
	done
	last=$(cpu_ticks "$RESP_PID")
	echo "  ikeload: established $(jnum "$json" established), failed $(jnum "$json" failed), $(jnum "$json" sas_per_second) pairs/s, p50 $(jlat "$json" p50) ms, p99 $(jlat "$json" p99) ms"
	echo "  Deletes at the end: iked CPU $(awk -v a="$mid" -v b="$last" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')s (settled $(awk -v a="$t1" -v b="$(date +%s%N)" 'BEGIN {printf "%.0f", (b - a) / 1e9}')s after ikeload ended); message 70 lines: $(grep -c 'queue full, important packet dropped' "$WORK/iked/out" || true); 'kernel policies ... not installed' lines: $(grep -c 'kernel policies of a Quick Mode SA not installed' "$WORK/iked/out" || true); ISAKMP SAs left: $(sas_held || echo 'no answer')"
	echo "  engine queue: $("${CTL[@]}" stats 2>/dev/null | grep -E 'engine-dropped|engine-waits' | tr -s ' \n' ' ')"
	stop_iked
}

# legit NAME: LEGIT SA pairs from 192.0.2.90-99, the latency figures.
legit() {
	local json=$WORK/legit-$1.json
	ikeload -source 192.0.2.90-192.0.2.99 -n "$LEGIT" -c "$C_LEGIT" -retransmit 2s -tries 3 >"$json" 2>"$json.err" || true
	echo "  legitimate ($1): established $(jnum "$json" established)/$LEGIT, $(jnum "$json" sas_per_second) pairs/s, p50 $(jlat "$json" p50) ms, p90 $(jlat "$json" p90) ms, p99 $(jlat "$json" p99) ms; load $(load)"
}

halfopen() {
	start_iked
	echo "# half-open: $HALF half-open SAs (ikeload -half-open, $HALF_SOURCES addresses), $LEGIT legitimate pairs C=$C_LEGIT; load $(load)"
	legit "empty table"
	sleep 1
	local rss0 json=$WORK/half.json n=0
	rss0=$(kib "$RESP_PID" VmRSS)
	# Each half-open SA stays until iked's half-open-lifetime (set to 5m
	# above, so that they outlive the measurement; the default is 60s):
	# ikeload's daemons wait 60 s for an MM4 to their withheld MM3.
	ikeload -source "192.0.2.200-192.0.2.$((200 + HALF_SOURCES - 1))" -half-open -n "$HALF" -c "$HALF" \
		-retransmit 60s -tries 2 >"$json" 2>"$json.err" &
	LOADS+=($!)
	for _ in $(seq 120); do
		n=$("${CTL[@]}" -json status | awk -F'[:,]' '/"half_open"/ {gsub(/ /, "", $2); print $2; exit}')
		[ "${n:-0}" -ge "$HALF" ] && break
		sleep 0.5
	done
	local rss1
	rss1=$(kib "$RESP_PID" VmRSS)
	echo "  iked holds ${n:-?} half-open SAs: RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, $(awk -v a="$rss0" -v b="$rss1" -v n="${n:-1}" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}') bytes each"
	legit "with $HALF half-open"
	n=$("${CTL[@]}" -json status | awk -F'[:,]' '/"half_open"/ {gsub(/ /, "", $2); print $2; exit}')
	echo "  half-open SAs still held after the run: ${n:-?}"
	stop_iked
}

for p in $PARTS; do "$p"; done
