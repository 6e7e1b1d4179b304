#!/bin/bash
# man.sh OUTDIR: renders docs/man/*.md into man pages with go-md2man (the
# version go.mod pins as a tool), then has groff and man render each one
# and fails on any warning. `make man` and `make check-man` run it.
set -euo pipefail
out=${1:?usage: man.sh OUTDIR}
GO=${GO:-go}
mkdir -p "$out"
status=0
for md in docs/man/*.md; do
	page="$out/$(basename "${md%.md}")"
	"$GO" tool go-md2man -in "$md" -out "$page"
	# -ww: every warning; -z: no output, only the diagnostics.
	warn=$(groff -man -t -ww -z "$page" 2>&1 || true)
	if command -v man >/dev/null; then
		warn+=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
	fi
	if [ -n "$warn" ]; then
		echo "$page: warnings:" >&2
		echo "$warn" >&2
		status=1
	else
		echo "$page"
	fi
done
exit $status
