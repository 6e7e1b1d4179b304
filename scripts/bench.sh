#!/usr/bin/env bash
# bench.sh: iked's benchmarks, each -count 5 with -benchmem, then a summary.
#
#   phase1    BenchmarkMainModePSK, BenchmarkAggressiveModePSK (handshakes/s),
#             BenchmarkResponderMM1 (MM1/s: the responder's cost of a first
#             message, the figure against a flood of spoofed MM1s)
#   quickmode BenchmarkQuickMode (exchanges/s, no PFS and PFS group 19)
#   daemon    BenchmarkInspect, BenchmarkLoopJunk (junk datagrams/s)
#   engine    the engine's own benchmarks
#
# The summary is benchstat's when benchstat is on PATH or in $(go env
# GOPATH)/bin (go install golang.org/x/perf/cmd/benchstat@latest), otherwise
# the mean of each benchmark's runs. The raw output is kept in
# $BENCH_OUT (default: a file under /tmp named in the last line).
#
# Environment: GO (go), COUNT (5), BENCHTIME (Go's default 1s), PKGS
# (the packages above), BENCH (regexp, default .).
# With IKED_BENCH=1 (and root plus strongSwan) it also runs
# interop's TestBenchAgainstCharon (IKED_BENCH_N SAs, default 30).
set -euo pipefail

GO=${GO:-go}
COUNT=${COUNT:-5}
BENCH=${BENCH:-.}
PKGS=${PKGS:-./phase1 ./quickmode ./daemon ./engine/...}
OUT=${BENCH_OUT:-$(mktemp /tmp/iked-bench-XXXXXX.txt)}

args=(-run '^$' -bench "$BENCH" -benchmem -count "$COUNT")
if [[ -n ${BENCHTIME:-} ]]; then
	args+=(-benchtime "$BENCHTIME")
fi

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT"
# shellcheck disable=SC2086 # PKGS is a list of packages
"$GO" test "${args[@]}" $PKGS | tee -a "$OUT"

echo
echo "== summary ($OUT)"
benchstat=$(command -v benchstat || true)
if [[ -z $benchstat && -x "$("$GO" env GOPATH)/bin/benchstat" ]]; then
	benchstat="$("$GO" env GOPATH)/bin/benchstat"
fi
if [[ -n $benchstat ]]; then
	# benchstat's 95% interval needs 6 runs; 90% is what 5 can give.
	"$benchstat" -confidence 0.9 "$OUT"
else
	# Mean of every reported figure per benchmark name.
	awk '/^Benchmark/ {
		name = $1; n[name]++
		for (i = 3; i < NF; i += 2) { key = name SUBSEP $(i+1); sum[key] += $i; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
	}
	END {
		for (j = 1; j <= k; j++) { split(order[j], p, SUBSEP); printf "%-50s %14.4g %s (mean of %d)\n", p[1], sum[order[j]] / n[p[1]], p[2], n[p[1]] }
	}' "$OUT"
fi

if [[ ${IKED_BENCH:-} == 1 ]]; then
	echo
	echo "== charon against iked vs charon against charon"
	IKED_BENCH=1 "$GO" test -count 1 -run '^TestBenchAgainstCharon$' -v ./interop | grep -E 'n=|SKIP|FAIL|ok' | sort -u
fi
