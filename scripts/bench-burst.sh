#!/usr/bin/env bash
# bench-burst.sh: strongSwan's charon starting N Main Mode PSK ISAKMP SAs
# at once from ONE address (N clients behind one NAT after an outage),
# against iked with its default settings, against iked with the per-source
# limits lifted, and against charon as responder; prints the time until all
# are established (or how many were by the deadline), one line each.
#
# A measurement, not a test: interop's TestBenchBurst (interop/burst_test.go)
# does the work in network namespaces; it needs root and strongSwan
# (charon-systemd, strongswan-swanctl). The acceptance figure of
# docs/policy-file.md's "Floods and many clients behind one address": with
# the defaults the burst completes in under twice the time with the limits
# lifted.
#
# Environment: GO (go), N (1000), DEADLINE (180s), RESPONDERS
# (iked-default,iked-lifted,charon), IKED_BIN_DIR (prebuilt iked and
# ikectl, e.g. of another commit, to compare).
set -euo pipefail

GO=${GO:-go}
export IKED_BENCH_BURST=1
export IKED_BENCH_N=${N:-1000}
export IKED_BENCH_DEADLINE=${DEADLINE:-180s}
export IKED_BENCH_RESPONDERS=${RESPONDERS:-iked-default,iked-lifted,charon}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg); N=$IKED_BENCH_N from one address"
out=$("$GO" test -count 1 -timeout 60m -run '^TestBenchBurst$' -v ./interop 2>&1) || { echo "$out" | tail -40; exit 1; }
if grep -q -- '--- SKIP' <<<"$out"; then
	grep -A2 -- '--- SKIP' <<<"$out"
	exit 1
fi
grep -E '^\s+burst_test.go:[0-9]+: (iked-[a-z]+|charon) +[0-9]' <<<"$out" | sed -E 's/^\s+burst_test.go:[0-9]+: //'
