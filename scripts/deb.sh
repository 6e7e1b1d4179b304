#!/bin/bash
# deb.sh [OUTDIR]: builds OUTDIR/iked_VERSION_amd64.deb with dpkg-deb: iked
# and ikectl (static PIE, stripped) in /usr/sbin, the systemd unit, the man
# pages (scripts/man.sh), /etc/iked/iked.yaml as a conffile (dist/iked.yaml:
# no connection, no secret) and the maintainer scripts of dist/deb (the
# system user iked). VERSION: the newest tag's version, else
# 0~gitYYYYMMDD.HASH of HEAD's commit. `make deb` runs it; `make deb-test`
# installs the result in a bare Debian root (scripts/deb-test.sh).
set -euo pipefail
out=${1:-bin}
GO=${GO:-go}
cd "$(dirname "$0")/.."

if [ -z "${DEB_VERSION:-}" ]; then
	if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
		DEB_VERSION=${tag#v}
	else
		DEB_VERSION="0~git$(git log -1 --date=format:%Y%m%d --format=%cd).$(git rev-parse --short=8 HEAD)"
	fi
fi
arch=amd64
deb="$out/iked_${DEB_VERSION}_${arch}.deb"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
umask 022

install -d "$root/usr/sbin" "$root/lib/systemd/system" "$root/etc/iked" \
	"$root/usr/share/man/man5" "$root/usr/share/man/man8" "$root/usr/share/doc/iked" "$root/DEBIAN"
for b in iked ikectl; do
	# Static PIE: no library dependency, and position independent as
	# Debian's hardening wants.
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -buildmode=pie \
		-ldflags "-s -w -X main.version=$DEB_VERSION" -o "$root/usr/sbin/$b" "./cmd/$b"
done
install -m 0644 dist/iked.service "$root/lib/systemd/system/iked.service"
install -m 0644 dist/iked.yaml "$root/etc/iked/iked.yaml"
GO=$GO ./scripts/man.sh "$stage/man" >/dev/null
for page in "$stage"/man/*; do
	sect=${page##*.}
	gzip -9n -c "$page" >"$root/usr/share/man/man$sect/$(basename "$page").gz"
done

date=$(git log -1 --format=%aD)
cat >"$stage/changelog" <<CHANGES
iked ($DEB_VERSION) unstable; urgency=medium

  * Built from commit $(git rev-parse HEAD).

 -- iked maintainers <maintainers@iked.invalid>  $date
CHANGES
gzip -9n -c "$stage/changelog" >"$root/usr/share/doc/iked/changelog.gz"
{
	echo "iked: an IKEv1 key exchange daemon for Linux."
	echo
	echo "Copyright $(git log -1 --date=format:%Y --format=%cd) the iked authors. The source states no licence."
	echo
	echo "The binaries embed these Go modules, each under its own licence:"
	"$GO" version -m "$root/usr/sbin/iked" "$root/usr/sbin/ikectl" | awk '$1 == "dep" {print "  " $2 " " $3}' | sort -u
	echo
	echo "and the Go standard library (BSD-3-Clause)."
} >"$root/usr/share/doc/iked/copyright"
chmod 0644 "$root/usr/share/doc/iked/"*

install -m 0755 dist/deb/postinst dist/deb/prerm dist/deb/postrm "$root/DEBIAN/"
echo /etc/iked/iked.yaml >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: iked
Version: $DEB_VERSION
Architecture: $arch
Maintainer: iked maintainers <maintainers@iked.invalid>
Installed-Size: $size
Pre-Depends: passwd
Section: net
Priority: optional
Description: IKEv1 key exchange daemon
 iked negotiates IPsec security associations with IKEv1 (RFC 2409): Main
 and Aggressive Mode with pre-shared keys or certificates, Quick Mode, NAT
 traversal and dead peer detection, and installs them in the Linux
 kernel's IPsec stack (XFRM). ikectl lists and controls its SAs.
 .
 The service runs as the unprivileged user iked with CAP_NET_ADMIN and
 CAP_NET_BIND_SERVICE only; its policy is /etc/iked/iked.yaml.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
