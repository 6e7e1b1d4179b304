#!/bin/bash
# deb-test.sh DEB: installs the package in a bare Debian 12 root (the
# minbase tarball scripts/ci-fresh.sh caches; made and cached here with
# debootstrap --variant=minbase when missing), as root with chroot:
# dpkg -i, the files and the user are there, `iked -check` accepts the
# conffile (also as user iked), `iked -version` runs; dpkg -r leaves only
# the conffile, dpkg -P nothing; lintian finds no error. Needs root.
set -euo pipefail
deb=${1:?usage: deb-test.sh DEB}
# The same cache as scripts/ci-fresh.sh.
cache=${CI_FRESH_CACHE:-/var/cache/iked-ci-fresh}
tarball="$cache/bookworm-minbase.tar"
[ "$(id -u)" = 0 ] || { echo "deb-test.sh: needs root (chroot)" >&2; exit 1; }

root=$(mktemp -d /tmp/iked-deb-test.XXXXXX)
cleanup() { rm -rf --one-file-system "$root"; }
trap cleanup EXIT
if [ ! -s "$tarball" ]; then
	mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2; exit}')
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	echo "deb-test.sh: debootstrap --variant=minbase bookworm (cached in $tarball)"
	t0=$(date +%s)
	debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >"$root.log" 2>&1 ||
		{ tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
	rm -f "$root.log"
	mkdir -p "$cache"
	tar -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
	echo "deb-test.sh: base root made in $(($(date +%s) - t0)) s"
else
	tar -C "$root" -xf "$tarball"
fi
chmod 755 "$root" # "/" inside, for the user iked too (the tarball has 0700)
# dpkg is the only one to touch the root: no services start in it.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

fail=0
check() { # check DESCRIPTION COMMAND...: runs it, says ok or FAIL
	if out=$("${@:2}" 2>&1); then
		echo "ok   $1"
	else
		echo "FAIL $1"
		echo "$out" | sed 's/^/     /'
		fail=1
	fi
}
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
# snapshot: every path of the root but dpkg's own records and logs and the
# policy-rc.d of this script.
snapshot() {
	(cd "$root" && find . -xdev \( -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache/debconf \
		-o -path ./proc -o -path ./dev -o -path ./usr/sbin/policy-rc.d \) -prune -o -print | LC_ALL=C sort)
}

snapshot >"$root.before"
trap 'cleanup; rm -f "$root".*' EXIT
cp "$deb" "$root/tmp/iked.deb"
check "dpkg -i $(basename "$deb")" in_root dpkg -i /tmp/iked.deb
rm "$root/tmp/iked.deb"

for f in /usr/sbin/iked /usr/sbin/ikectl /lib/systemd/system/iked.service /etc/iked/iked.yaml \
	/usr/share/man/man8/iked.8.gz /usr/share/man/man8/ikectl.8.gz /usr/share/man/man5/iked.yaml.5.gz \
	/usr/share/doc/iked/copyright /usr/share/doc/iked/changelog.gz; do
	check "$f installed" test -s "$root$f"
done
for m in man8/iked.8 man8/ikectl.8 man5/iked.yaml.5; do
	check "$m.gz is a man page" sh -c "zcat '$root/usr/share/man/$m.gz' | grep -q '^\.TH'"
done
check "conffile registered" sh -c "in_root() { chroot '$root' \"\$@\"; }; chroot '$root' dpkg-query -W -f='\${Conffiles}' iked | grep -q '/etc/iked/iked.yaml'"
check "system user iked, no login" sh -c "chroot '$root' getent passwd iked | grep -q ':/nonexistent:/usr/sbin/nologin$'"
check "iked.yaml is root:iked 0640" sh -c "[ \"\$(chroot '$root' stat -c '%U:%G %a' /etc/iked/iked.yaml)\" = 'root:iked 640' ]"
# Every program the unit runs is in the bare root (systemd would fail the
# start or the reload with status 203/EXEC otherwise).
for exe in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$root/lib/systemd/system/iked.service"); do
	check "the unit's $exe is in the bare root" test -x "$root$exe"
done
check "iked -version" in_root /usr/sbin/iked -version
check "iked -check (root)" in_root /usr/sbin/iked -check -config /etc/iked/iked.yaml
check "iked -check (user iked)" in_root setpriv --reuid=iked --regid=iked --clear-groups \
	/usr/sbin/iked -check -config /etc/iked/iked.yaml
check "ikectl -h" sh -c "chroot '$root' /usr/sbin/ikectl -h 2>&1 | grep -qi usage"

check "dpkg -r iked" in_root dpkg -r iked
snapshot >"$root.removed"
left=$(LC_ALL=C comm -13 "$root.before" "$root.removed")
echo "after dpkg -r, new paths: $(echo $left)"
# useradd leaves backups of the user database (passwd-, group-, shadow-,
# gshadow-) where the root had none: files of the system, not the package's.
pkgleft=$(echo "$left" | grep -v -E '^\./etc/(passwd|group|shadow|gshadow)-$' || true)
check "dpkg -r leaves only the conffile" test "$(echo $pkgleft)" = "./etc/iked ./etc/iked/iked.yaml"
check "dpkg -P iked" in_root dpkg -P iked
snapshot >"$root.purged"
left=$(LC_ALL=C comm -13 "$root.before" "$root.purged" | grep -v -E '^\./etc/(passwd|group|shadow|gshadow)-$' || true)
echo "after dpkg -P, new paths besides the user database backups: $(echo $left)"
check "dpkg -P leaves nothing" test -z "$left"
check "dpkg forgot iked" sh -c "! chroot '$root' dpkg-query -W iked 2>/dev/null"

# lintian (Debian package lintian) on the host: errors fail, the rest is
# listed.
if command -v lintian >/dev/null; then
	lint=$(lintian --display-level '>=pedantic' "$deb" 2>/dev/null || true)
	echo "lintian:"
	echo "${lint:-  (nothing)}" | sed 's/^/  /'
	check "lintian: no error" sh -c "! echo \"\$1\" | grep -q '^E:'" sh "$lint"
elif [ -n "${CI:-}" ]; then
	echo "FAIL lintian not installed (Debian package lintian)"
	fail=1
else
	echo "lintian not installed: not run"
fi

if [ $fail = 0 ]; then
	echo "deb-test: PASS"
else
	echo "deb-test: FAIL"
fi
exit $fail
