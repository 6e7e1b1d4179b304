#!/usr/bin/env bash
# bench-responder.sh: strongSwan and iked as IKEv1 responders under the
# same load, side by side (docs/performance.md).
#
# Two network namespaces joined by a veth pair: ikeload (cmd/ikeload, the
# initiator built on iked's own phase 1 and Quick Mode) in one, from
# $SOURCES addresses it adds to its interface (so that no per-address
# limit of either responder decides the figures); the responder on
# 192.0.2.2 in the other. For each group (ECP256, MODP2048) and each
# responder, ikeload opens $N Main Mode PSK ISAKMP SAs, each with one
# Quick Mode bundle (AES-128, SHA2-256), $C at a time. The responder's CPU
# (utime + stime of its process, all threads, from /proc/PID/stat) is read
# before and after the run, with its RSS (VmRSS, and the peak VmHWM) while
# the SAs are held; the table gives SA pairs/s, the responder's CPU per
# pair and its RSS.
#
# Both responders are set up to be fair: charon logs at its default level
# (filelog default = 1), its half-open limits lifted (init_limit_half_open,
# block_threshold), its IKE_SA table sized for thousands (ikesa_table_size,
# segments); iked runs with its defaults (log level info, engine none) and
# half-open-max raised likewise. This kernel has no ESP, so neither
# installs ESP states: iked's engine none keeps them in the daemon, and
# charon (kernel-netlink) tries the kernel, which refuses ESP states; its
# Quick Modes still complete on the wire (charon installs after QM3).
#
# Environment: N (500), C (concurrency, 50), SOURCES (20), RUNS (1),
# BENCH_GROUPS ("ecp256 modp2048"), RESPONDERS ("strongswan iked"), BIN (bin),
# GO (go), PREFIX (namespace prefix, hbr), KEEP=1 keeps the work folder.
# WARMUP=M first opens M pairs (deleted again as that ikeload stops)
# before the CPU is read: a daemon's steady state, the same for both
# responders (0: each run starts on a fresh process).
# FLOOR=0 skips the crypto floor (ikecrypto's BenchmarkResponderFloor), read
# before and after the runs for the ratios printed last.
# IKED=PATH runs that iked binary instead of building one (to compare
# two builds). PROFILE=SECONDS builds iked with -tags pprof (cmd/iked/pprof.go) and
# saves a CPU profile of the first SECONDS of each iked run in the work
# folder (go tool pprof -top bin/iked FILE), and when every pair is up its
# allocation profile (iked-GROUP-RUN.allocs.pprof: every allocation since
# it started; -sample_index=alloc_space or alloc_objects); KEEP it.
# PIN=1 runs the responder alone on the last CPU and everything else
# (ikeload, this script, the floor) on the others, as when the load
# comes from other machines; Go then starts iked with one processor, as
# it reads its CPU affinity (default: all share every CPU, as the issue
# measured).
# Root; needs charon-systemd and swanctl (Debian: charon-systemd
# strongswan-swanctl libstrongswan-standard-plugins). Nothing leaves the
# namespaces; every address is from 192.0.2.0/24.
set -euo pipefail

N=${N:-500}
C=${C:-50}
SOURCES=${SOURCES:-20}
RUNS=${RUNS:-1}
GROUPS_=${BENCH_GROUPS:-ecp256 modp2048}
RESPONDERS=${RESPONDERS:-strongswan iked}
BIN=${BIN:-bin}
GO=${GO:-go}
PREFIX=${PREFIX:-hbr}
WARMUP=${WARMUP:-0}
NS_I=$PREFIX-ini
NS_R=$PREFIX-resp
ADDR_R=192.0.2.2
PSK="bench-responder: not a secret"

if [ "$(id -u)" != 0 ]; then
	echo "bench-responder: needs root (network namespaces)" >&2
	exit 1
fi
for t in ip /usr/sbin/charon-systemd swanctl; do
	command -v "$t" >/dev/null || {
		echo "bench-responder: $t missing (Debian: iproute2 charon-systemd strongswan-swanctl libstrongswan-standard-plugins)" >&2
		exit 1
	}
done

NCPU=$(nproc)
RESP_CPU=
if [ -n "${PIN:-}" ]; then
	[ "$NCPU" -ge 2 ] || { echo "bench-responder: PIN needs 2 CPUs or more" >&2; exit 1; }
	RESP_CPU=$((NCPU - 1))
	taskset -pc "0-$((NCPU - 2))" $$ >/dev/null
fi

mkdir -p "$BIN"
command -v "$GO" >/dev/null || PATH=/usr/local/go/bin:$PATH
if [ -n "${IKED:-}" ]; then
	: # the iked binary given
elif [ -n "${PROFILE:-}" ]; then
	"$GO" build -tags pprof -o "$BIN/iked" ./cmd/iked
else
	"$GO" build -o "$BIN/iked" ./cmd/iked
fi
"$GO" build -o "$BIN/ikeload" ./cmd/ikeload
BIN=$(cd "$BIN" && pwd)
IKED=${IKED:-$BIN/iked}

WORK=$(mktemp -d /tmp/bench-responder-XXXXXX)
RESP_PID=
cleanup() {
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
for ns in "$NS_I" "$NS_R"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_I" link set "$PREFIX-i0" up
ip -n "$NS_R" link set "$PREFIX-r0" up
# ikeload's sources: 192.0.2.100 onwards, added by ikeload itself (-dev).
FIRST=100
LAST=$((FIRST + SOURCES - 1))
[ "$LAST" -le 254 ] || { echo "bench-responder: SOURCES at most 155" >&2; exit 1; }

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; } # the kernel's part (stime)
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

start_strongswan() { # group
	local d=$WORK/swan
	rm -rf "$d"
	mkdir -p "$d"
	cat >"$d/strongswan.conf" <<-CONF
	charon-systemd {
	  journal { default = -1 }
	  filelog { main { path = $d/charon.log
	                   default = 1
	                   time_format = %b %e %T } }
	  plugins {
	    include /etc/strongswan.d/charon/*.conf
	    vici { socket = unix://$d/vici }
	    kernel-libipsec { load = no }
	  }
	  # half-open limits lifted, like half-open-max of iked
	  init_limit_half_open = 0
	  init_limit_job_load = 0
	  block_threshold = 1000000
	  cookie_threshold = 1000000
	  ikesa_table_size = 4096
	  ikesa_table_segments = 16
	}
	swanctl { socket = unix://$d/vici }
	CONF
	local prop
	case $1 in
	ecp256) prop=aes128-sha256-ecp256 ;;
	modp2048) prop=aes128-sha256-modp2048 ;;
	esac
	mkdir -p "$d/swanctl"
	cat >"$d/swanctl/swanctl.conf" <<-CONF
	connections {
	  ike {
	    version = 1
	    local_addrs = $ADDR_R
	    remote_addrs = %any
	    proposals = $prop
	    unique = never
	    local { auth = psk
	            id = $ADDR_R }
	    remote { auth = psk }
	    children { c { esp_proposals = aes128-sha256
	                   mode = transport } }
	  }
	}
	secrets { ike-1 { secret = "$PSK" } }
	CONF
	STRONGSWAN_CONF=$d/strongswan.conf ip netns exec "$NS_R" ${RESP_CPU:+taskset -c $RESP_CPU} /usr/sbin/charon-systemd >"$d/out" 2>&1 &
	RESP_PID=$!
	for _ in $(seq 100); do [ -S "$d/vici" ] && break; sleep 0.1; done
	STRONGSWAN_CONF=$d/strongswan.conf swanctl --load-all --file "$d/swanctl/swanctl.conf" >"$d/load.out" 2>&1 ||
		{ cat "$d/load.out"; exit 1; }
}

start_iked() { # group
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
	  log: {level: info}
	transforms:
	  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [$1]}
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
	IKED_PPROF=${PROFILE:+127.0.0.1:6060} ip netns exec "$NS_R" ${RESP_CPU:+taskset -c $RESP_CPU} "$IKED" -config "$d/iked.yaml" >"$d/out" 2>&1 &
	RESP_PID=$!
	for _ in $(seq 100); do [ -S "$d/iked.sock" ] && break; sleep 0.1; done
	[ -S "$d/iked.sock" ] || { cat "$d/out"; exit 1; }
}

# The process whose CPU counts: charon-systemd or iked (ip netns exec
# execs it, so $RESP_PID is the daemon).
stop_responder() {
	kill "$RESP_PID" 2>/dev/null || true
	wait "$RESP_PID" 2>/dev/null || true
	RESP_PID=
}

# The crypto floor: ikecrypto's BenchmarkResponderFloor, the cryptography
# of one SA pair as the responder does it, in that test process's CPU per
# pair (docs/performance.md). Read before and after the runs, since this
# machine's speed moves; FLOOR=0 skips it. Prints "ECP256 MODP2048" in ms.
floor() {
	# On every CPU, pinned or not (PIN), as in the runs without PIN.
	${RESP_CPU:+taskset -c 0-$RESP_CPU} "$GO" test -run '^$' -bench ResponderFloor -count 1 ./ikecrypto/ 2>/dev/null |
		awk '/ResponderFloor\/19[- \t]/ {e = $(NF-1)} /ResponderFloor\/14[- \t]/ {m = $(NF-1)} END {print e, m}'
}
floor0=
[ "${FLOOR:-1}" = 0 ] || floor0=$(floor)
declare -A sum cnt

results=()
echo "# $(date -u +%FT%TZ) $NCPU CPUs${RESP_CPU:+ (responder alone on CPU $RESP_CPU)} ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r)"
echo "# strongSwan $(dpkg-query -W -f '${Version}' charon-systemd 2>/dev/null || echo "?"), iked $(git describe --always --dirty 2>/dev/null || echo dev)"
echo "# N=$N SA pairs per run (after $WARMUP warm-up pairs), C=$C at a time, $SOURCES source addresses, Main Mode PSK aes128-sha256, Quick Mode aes128-sha256"
for run in $(seq "$RUNS"); do
	for g in $GROUPS_; do
		for r in $RESPONDERS; do
			"start_$r" "$g"
			sleep 0.5
			if [ "$WARMUP" -gt 0 ]; then
				# Steady state: WARMUP pairs first, deleted again when
				# that ikeload stops, so that the heap, the tables and
				# the pages a daemon keeps for its lifetime are there
				# before the CPU is read.
				"$BIN/ikeload" -netns "$NS_I" -dev "$PREFIX-i0" -source "192.0.2.$FIRST-192.0.2.$LAST" \
					-target $ADDR_R -n "$WARMUP" -c "$C" -group "$g" -psk "$PSK" -retransmit 2s -tries 3 \
					-json >"$WORK/$r-$g-$run.warmup.json" 2>&1 || true
				sleep 1
			fi
			before=$(cpu_ticks "$RESP_PID")
			sys0=$(sys_ticks "$RESP_PID")
			rss0=$(kib "$RESP_PID" VmRSS)
			json=$WORK/$r-$g-$run.json
			# -hold 1s: once every SA is done, ikeload says so and keeps
			# them a second (then deletes them as it stops). The CPU of the
			# handshakes is read then; the RSS is sampled all along, its
			# largest value kept; the Deletes' CPU is read after ikeload
			# ended.
			"$BIN/ikeload" -netns "$NS_I" -dev "$PREFIX-i0" -source "192.0.2.$FIRST-192.0.2.$LAST" \
				-target $ADDR_R -n "$N" -c "$C" -group "$g" -psk "$PSK" -retransmit 2s -tries 3 \
				-hold 1s -json >"$json" 2>"$json.err" &
			load=$!
			if [ -n "${PROFILE:-}" ] && [ "$r" = iked ]; then
				ip netns exec "$NS_R" curl -s -o "$WORK/iked-$g-$run.pprof" \
					"http://127.0.0.1:6060/debug/pprof/profile?seconds=$PROFILE" &
			fi
			rss=$rss0
			held=
			sys1=
			while kill -0 "$load" 2>/dev/null; do
				v=$(kib "$RESP_PID" VmRSS)
				[ "${v:-0}" -gt "$rss" ] && rss=$v
				if [ -z "$held" ] && grep -q "holding" "$json.err"; then
					held=$(cpu_ticks "$RESP_PID")
					sys1=$(sys_ticks "$RESP_PID")
					if [ -n "${PROFILE:-}" ] && [ "$r" = iked ]; then
						# Every allocation since iked started, until all
						# pairs are up (go tool pprof -sample_index=alloc_space).
						ip netns exec "$NS_R" curl -s -o "$WORK/iked-$g-$run.allocs.pprof" \
							"http://127.0.0.1:6060/debug/pprof/allocs" || true
					fi
				fi
				sleep 0.1
			done
			wait "$load" || true
			# ikeload sends its Deletes and exits; the responder works
			# through them after that. Its CPU is read once it is idle
			# again (no more than one tick in half a second), or after
			# DRAIN_MAX seconds.
			t_end=$((SECONDS + ${DRAIN_MAX:-300}))
			after=$(cpu_ticks "$RESP_PID")
			while [ "$SECONDS" -lt "$t_end" ]; do
				sleep 0.5
				v=$(cpu_ticks "$RESP_PID")
				[ $((v - after)) -le 1 ] && break
				after=$v
			done
			held=${held:-$after}
			sys1=${sys1:-$(sys_ticks "$RESP_PID")}
			hwm=$(kib "$RESP_PID" VmHWM)
			stop_responder
			ok=$(awk -F'[:,]' '/"established"/ {gsub(/ /, "", $2); print $2}' "$json")
			failed=$(awk -F'[:,]' '/"failed"/ {gsub(/ /, "", $2); print $2}' "$json")
			rate=$(awk -F'[:,]' '/"sas_per_second"/ {gsub(/ /, "", $2); print $2}' "$json")
			p99=$(awk '/"latency_ms"/ {f=1} f && /"p99"/ {gsub(/[ ,]/, "", $2); print $2; exit}' FS=: "$json")
			cpu_ms=$(awk -v a="$before" -v b="$held" -v hz="$hz" 'BEGIN {printf "%.0f", (b - a) * 1000 / hz}')
			del_ms=$(awk -v a="$held" -v b="$after" -v hz="$hz" 'BEGIN {printf "%.0f", (b - a) * 1000 / hz}')
			sysp=$(awk -v a="$before" -v b="$held" -v s0="$sys0" -v s1="$sys1" 'BEGIN {if (b > a) printf "%.0f", (s1 - s0) * 100 / (b - a); else print "-"}')
			per=$(awk -v ms="$cpu_ms" -v n="$ok" 'BEGIN {if (n > 0) printf "%.2f", ms / n; else print "-"}')
			delper=$(awk -v ms="$del_ms" -v n="$ok" 'BEGIN {if (n > 0) printf "%.2f", ms / n; else print "-"}')
			results+=("$(printf '%-10s %-9s %4d %6s %6s %9.1f %9.1f %8s %8s %8s %9s %9s %5s' "$r" "$g" "$run" "$ok" "$failed" "$rate" "$p99" "$cpu_ms" "$per" "$delper" "$((rss / 1024))" "$((hwm / 1024))" "$sysp")")
			echo "${results[-1]}"
			if [ "$per" != - ]; then
				sum[$r-$g]=$(awk -v a="${sum[$r-$g]:-0}" -v b="$per" 'BEGIN {print a + b}')
				cnt[$r-$g]=$((${cnt[$r-$g]:-0} + 1))
			fi
			if [ "$failed" != 0 ]; then
				echo "  failures: $(tr -d '\n' <"$json" | sed 's/.*"failures": *\({[^}]*}\).*/\1/')"
			fi
		done
	done
done
echo
echo "responder  group      run     ok failed   pairs/s   p99(ms)  cpu(ms)  ms/pair  del ms/p  RSS(MiB) peak(MiB)  sys%"
echo "(cpu: the responder's, until every pair is up; ms/pair: that per pair; del ms/p: its CPU per pair for the Deletes at the end;"
echo " sys%: the kernel's share of cpu, system calls and page faults)"
printf '%s\n' "${results[@]}"

# The ratios the responder work is judged by (docs/performance.md, "Where
# things stand"): each responder's mean CPU per pair over the runs against
# the floor read before and after, and iked's against strongSwan's.
if [ -n "$floor0" ]; then
	floor1=$(floor)
	echo
	echo "crypto floor, ms per pair (go test -bench ResponderFloor ./ikecrypto/), before and after the runs:" \
		"ECP256 ${floor0% *} and ${floor1% *}, MODP2048 ${floor0#* } and ${floor1#* }"
	for g in $GROUPS_; do
		case $g in
		ecp256) f0=${floor0% *} f1=${floor1% *} ;;
		modp2048) f0=${floor0#* } f1=${floor1#* } ;;
		*) continue ;;
		esac
		line="$g:"
		for r in $RESPONDERS; do
			[ -n "${cnt[$r-$g]:-}" ] || continue
			line+=$(awk -v s="${sum[$r-$g]}" -v n="${cnt[$r-$g]}" -v a="$f0" -v b="$f1" -v r="$r" 'BEGIN {
				m = s / n; lo = (a < b ? a : b); hi = (a < b ? b : a)
				if (lo > 0) printf " %s %.2f ms/pair, %.1f-%.1fx the floor;", r, m, m / hi, m / lo
				else printf " %s %.2f ms/pair;", r, m }')
		done
		if [ -n "${cnt[iked-$g]:-}" ] && [ -n "${cnt[strongswan-$g]:-}" ]; then
			line+=$(awk -v a="${sum[iked-$g]}" -v na="${cnt[iked-$g]}" -v b="${sum[strongswan-$g]}" -v nb="${cnt[strongswan-$g]}" \
				'BEGIN {if (b > 0) printf " iked/strongSwan %.2f", (a / na) / (b / nb)}')
		fi
		echo "${line%;}"
	done
fi
