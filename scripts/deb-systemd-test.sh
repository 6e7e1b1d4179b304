#!/bin/bash
# deb-systemd-test.sh DEB: boots systemd 252 in a bare Debian 12 root with
# systemd-nspawn (its own network namespace, only lo), the package installed
# and the service enabled, then checks the unit under the real manager:
# started as Type=notify, user iked with CAP_NET_ADMIN and
# CAP_NET_BIND_SERVICE only, watchdog pings, `systemctl reload` (a good and a
# broken policy), `journalctl IKED_CATALOG=2`, a clean stop. Needs root, the
# Debian packages systemd-container and debootstrap's tarball (see
# deb-test.sh), and Debian's mirror to install systemd into the root.
# `make deb-systemd-test`; not part of make test.
set -euo pipefail
deb=${1:?usage: deb-systemd-test.sh DEB}
cache=${CI_FRESH_CACHE:-/var/cache/iked-ci-fresh}
tarball="$cache/bookworm-minbase.tar"
[ "$(id -u)" = 0 ] || { echo "deb-systemd-test.sh: needs root" >&2; exit 1; }
command -v systemd-nspawn >/dev/null || { echo "deb-systemd-test.sh: needs systemd-nspawn (Debian package systemd-container)" >&2; exit 1; }
[ -s "$tarball" ] || { echo "deb-systemd-test.sh: no $tarball: run make deb-test once" >&2; exit 1; }

root=$(mktemp -d /tmp/iked-boot.XXXXXX)
nspawn=
cleanup() {
	if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
		kill "$nspawn"
		wait "$nspawn" || true
	fi
	rm -rf --one-file-system "$root" "$root.log"
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
chmod 755 "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
export DEBIAN_FRONTEND=noninteractive
if ! { chroot "$root" apt-get update -qq && chroot "$root" apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus; } >"$root.log" 2>&1; then
	tail -n 20 "$root.log" >&2
	exit 1
fi
cp "$deb" "$root/tmp/iked.deb"
chroot "$root" dpkg -i /tmp/iked.deb >"$root.log" 2>&1 || { cat "$root.log" >&2; exit 1; }
chroot "$root" systemctl enable iked.service >/dev/null 2>&1

# nspawn keeps its propagation mounts under /run/systemd/nspawn, which must
# be a tmpfs: one of its own, in a mount namespace of its own.
unshare -m --propagation private sh -c 'mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn &&
	exec systemd-nspawn -q -D "$1" --keep-unit --register=no --private-network -b --console=pipe' sh "$root" \
	>"$root.log" 2>&1 &
nspawn=$!

# The container's init: nspawn's child.
init=
for _ in $(seq 100); do
	init=$(cat /proc/"$nspawn"/task/*/children 2>/dev/null | awk '{print $1; exit}')
	[ -n "$init" ] && [ "$(cat /proc/"$init"/comm 2>/dev/null)" = systemd ] && break
	init=
	sleep 0.2
done
[ -n "$init" ] || { echo "deb-systemd-test.sh: the container did not boot:" >&2; cat "$root.log" >&2; exit 1; }
in_ct() { nsenter -t "$init" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
prop() { in_ct systemctl show iked.service -p "$1" --value; }

fail=0
check() {
	if out=$("${@:2}" 2>&1); then
		echo "ok   $1"
	else
		echo "FAIL $1"
		echo "$out" | sed 's/^/     /'
		fail=1
	fi
}
for _ in $(seq 100); do
	[ "$(prop ActiveState 2>/dev/null || true)" = active ] && break
	sleep 0.2
done
check "iked.service active at boot (Type=notify: after READY=1)" test "$(prop ActiveState)" = active
check "status text from iked" test "$(prop StatusText)" = running
pid=$(prop MainPID)
status=$(in_ct cat /proc/"$pid"/status)
check "runs as user iked" test "$(echo "$status" | awk '/^Uid:/ {print $2}')" = "$(in_ct id -u iked)"
for c in CapEff CapBnd CapAmb; do
	check "$c is CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only" test "$(echo "$status" | awk -v k="$c:" '$1 == k {print $2}')" = 0000000000001400
done
check "NoNewPrivs and a seccomp filter" sh -c "echo '$status' | grep -q '^NoNewPrivs:[[:space:]]*1' && echo '$status' | grep -q '^Seccomp:[[:space:]]*2'"
check "watchdog pinged" test "$(prop WatchdogTimestampMonotonic)" != 0
check "control socket in RuntimeDirectory" in_ct test -S /run/iked/iked.sock
check "StateDirectory /var/lib/iked, iked's, 0700" test "$(in_ct stat -c %U:%a /var/lib/iked)" = iked:700
check "ikectl status" in_ct ikectl status
check "systemctl reload" in_ct systemctl reload iked.service
check "reloaded in the journal" sh -c "nsenter -t $init -a journalctl -u iked -o cat | grep -q 'policy reloaded'"
cp "$root/etc/iked/iked.yaml" "$root.good"
echo 'connections: [' >>"$root/etc/iked/iked.yaml"
check "systemctl reload of a broken policy" in_ct systemctl reload iked.service
check "still active, status says the reload was refused" sh -c "[ '$(prop ActiveState)' = active ] && [ \"\$(nsenter -t $init -a systemctl show iked -p StatusText --value)\" = 'running; the last reload was refused' ]"
cp "$root.good" "$root/etc/iked/iked.yaml"
rm -f "$root.good"
check "journalctl IKED_CATALOG=21 finds the refusal" sh -c "nsenter -t $init -a journalctl IKED_CATALOG=21 -o cat | grep -q 'SPD: Policy not instantiated'"
check "journalctl IKED_CATALOG=2 finds message 2" sh -c "nsenter -t $init -a journalctl IKED_CATALOG=2 -o cat | grep -q 'Attaching to the TCP/IP stack'"
check "systemctl stop" in_ct systemctl stop iked.service
check "stopped cleanly" test "$(prop Result)/$(prop ActiveState)" = success/inactive

if [ $fail = 0 ]; then
	echo "deb-systemd-test: PASS"
else
	echo "deb-systemd-test: FAIL"
fi
exit $fail
