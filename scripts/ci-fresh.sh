#!/usr/bin/env bash
# ci-fresh.sh: prove that .ci/run passes on a bare Debian 12 machine.
#
# It builds a Debian 12 root with `debootstrap --variant=minbase bookworm`
# (the tarball is cached in $CI_FRESH_CACHE, so only the first run
# downloads it), gives it this machine's apt sources (the mirror its apt
# uses) and Go from /usr/local/go, clones the committed tree (HEAD; not
# the working tree's uncommitted changes) into it, and runs `.ci/run` there
# with CI=true, no standard input, as root, with /proc, /sys and /dev
# mounted, inside a mount namespace of its own (unshare -m), so nothing it
# mounts is seen outside. Then, in a second bare root with only `make`
# added, `make demo` (skip it with CI_FRESH_DEMO=0). Everything is removed
# at the end (CI_FRESH_KEEP=1 keeps the roots). It prints each exit status
# and time, and exits non-zero if either failed.
#
# Run as root: `make ci-fresh`. Needs debootstrap, git, util-linux.
set -euo pipefail

top=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
cache=${CI_FRESH_CACHE:-/var/cache/iked-ci-fresh}
work=${CI_FRESH_DIR:-/var/tmp}

if [ "$(id -u)" != 0 ]; then
	echo "ci-fresh: needs root (debootstrap, chroot, mount namespaces)" >&2
	exit 1
fi
for tool in debootstrap unshare chroot git; do
	command -v "$tool" >/dev/null || {
		echo "ci-fresh: $tool missing (apt-get install debootstrap util-linux git)" >&2
		exit 1
	}
done
[ -x /usr/local/go/bin/go ] || {
	echo "ci-fresh: no Go at /usr/local/go" >&2
	exit 1
}

# The bare root: scripts/minbase.sh (debootstrap minbase from the mirror
# this machine's apt uses, cached).
MINBASE_MIRROR=${CI_FRESH_MIRROR:-${MINBASE_MIRROR:-}}
. "$top/scripts/minbase.sh"
base=$(minbase_tar "$cache" "$work")

roots=()
cleanup() {
	local r
	for r in "${roots[@]}"; do
		# The mounts lived in unshare's namespace and went with it; refuse
		# to remove anything that is still mounted all the same.
		if grep -q " $r/" /proc/self/mounts; then
			echo "ci-fresh: $r still has mounts; not removing it" >&2
			continue
		fi
		if [ -n "${CI_FRESH_KEEP:-}" ]; then
			echo "ci-fresh: kept $r"
		else
			rm -rf --one-file-system "$r"
		fi
	done
}
trap cleanup EXIT
trap "exit 130" INT TERM

# newroot unpacks the base, gives it this machine's apt configuration and
# name resolution, and clones the committed tree to /ci/main (the tests
# read nothing outside the repository).
newroot() {
	local r
	r=$(mktemp -d "$work/iked-ci-fresh.XXXXXX")
	roots+=("$r")
	R=$r
	tar -C "$r" -xf "$base"
	chmod 755 "$r" # mktemp made it 0700; a machine's / is 0755 (other users traverse it)
	cp -a /etc/apt/sources.list.d/. "$r/etc/apt/sources.list.d/" 2>/dev/null || true
	[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$r/etc/apt/sources.list"
	cp -a /etc/apt/apt.conf.d/. "$r/etc/apt/apt.conf.d/" 2>/dev/null || true
	cp /etc/resolv.conf "$r/etc/resolv.conf"
	# The machine's trust store: a machine of this kind may reach the module
	# proxy through a CA of its own, which is in the system bundle but in no
	# Debian package. It goes where update-ca-certificates keeps it (when
	# .ci/run installs ca-certificates) and into the bundle Go reads.
	if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
		mkdir -p "$r/usr/local/share/ca-certificates" "$r/etc/ssl/certs"
		cp /etc/ssl/certs/ca-certificates.crt "$r/usr/local/share/ca-certificates/machine-trust.crt"
		cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
	fi
	mkdir -p "$r/usr/local/go" "$r/ci"
	git clone -q --no-local "$top" "$r/ci/main"
}

# inroot runs a command as root in the bare root: its own mount namespace,
# /proc, /sys, /dev and Go mounted, a clean environment with CI=true (plus
# the Go and proxy settings of this machine's environment, which a fresh
# machine has too), no standard input.
inroot() {
	local r=$1
	shift
	local keep=() v
	for v in GOFLAGS GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOTOOLCHAIN SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy no_proxy; do
		[ -n "${!v:-}" ] && keep+=("$v=${!v}")
	done
	unshare -m --propagation private bash -c '
		set -e
		r=$1; shift
		# The root must be a mount point, as / is on a machine: ip netns
		# exec remounts / as a slave and fails on a plain folder.
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs tmpfs "$r/run"
		mount --bind -o ro /usr/local/go "$r/usr/local/go"
		exec chroot "$r" "$@"
	' inroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI=true \
		PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		"${keep[@]}" "$@" </dev/null
}

status=0

logs=$work/iked-ci-fresh-last
newroot
r=$R
echo "ci-fresh: .ci/run of $(git -C "$r/ci/main" log -1 --format='%h %s') in $r"
t0=$(date +%s)
set +e
inroot "$r" bash -c 'cd /ci/main && bash .ci/run' 2>&1 | tee "$logs.ci.log"
rc=${PIPESTATUS[0]}
set -e
ci_time=$(($(date +%s) - t0))
echo "ci-fresh: .ci/run exit status $rc after $ci_time s (log: $logs.ci.log)"
[ "$rc" = 0 ] || status=1

if [ "${CI_FRESH_DEMO:-1}" != 0 ]; then
	newroot
	r=$R
	echo "ci-fresh: make demo in a second bare root $r (apt-get install make first)"
	t0=$(date +%s)
	set +e
	inroot "$r" bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null && cd /ci/main && make demo' 2>&1 | tee "$logs.demo.log"
	rc=${PIPESTATUS[0]}
	set -e
	echo "ci-fresh: make demo exit status $rc after $(($(date +%s) - t0)) s (log: $logs.demo.log)"
	[ "$rc" = 0 ] || status=1
fi

echo "ci-fresh: .ci/run took $ci_time s; result: $([ $status = 0 ] && echo pass || echo FAIL)"
exit $status
