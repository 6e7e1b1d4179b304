#!/usr/bin/env bash
# kernel-test-libreswan.sh: libreswan's files for the kernel-test VM.
#
# Debian's libreswan conflicts with strongSwan, which this machine has
# installed, so it is not installed here: its package and the libraries it
# needs that this machine lacks are fetched from Debian's mirror with
# `apt-get download` (cached in DEBS) and unpacked with `dpkg -x` into ROOT.
# In the VM (scripts/kernel-test-guest.sh) each pluto the scenarios start
# (interop/libreswan.go) runs chrooted in an overlay of ROOT on the guest's
# root file system, so the files of this machine (ip, sh, libc) are there
# and libreswan's own (/usr/libexec/ipsec, /etc/ipsec.d) take precedence.
# libnss3-tools brings certutil and pk12util for pluto's NSS database.
#
# Usage: scripts/kernel-test-libreswan.sh DEBS ROOT
set -euo pipefail
DEBS=${1:?folder for the .deb files}
ROOT=${2:?folder to unpack them in}
WANT="libreswan libnss3-tools"

mkdir -p "$DEBS"
# What installing them would bring on this machine, as apt's resolver
# chooses it (a simulation: nothing is installed), less headers: the
# libraries this machine lacks, or has in an older version (the guest's
# root is this machine's, so the others are there).
need=$(apt-get -s install --no-install-recommends $WANT 2>/dev/null |
	awk '$1 == "Inst" && $2 !~ /-dev$/ {print $2}' | sort -u | tr '\n' ' ')
for p in $WANT; do
	case " $need " in *" $p "*) ;; *) echo "kernel-test-libreswan: apt-get -s install does not install $p" >&2; exit 1 ;; esac
done
missing=
for p in $need; do
	ls "$DEBS/${p}_"*.deb >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "kernel-test-libreswan: apt-get download$missing"
	(cd "$DEBS" && apt-get download $missing >/dev/null 2>"$DEBS/download.log") || {
		cat "$DEBS/download.log" >&2
		echo "kernel-test-libreswan: apt-get download failed (run apt-get update?)" >&2
		exit 1
	}
fi
rm -rf "$ROOT"
mkdir -p "$ROOT"
for p in $need; do
	dpkg -x "$(ls -v "$DEBS/${p}_"*.deb | tail -1)" "$ROOT"
done
# This machine's /lib, /bin, /sbin may be links into /usr (merged /usr):
# a folder of the same name in the overlay's upper layer would hide them.
for d in bin sbin lib lib64; do
	if [ -d "$ROOT/$d" ] && [ -L "/$d" ]; then
		mkdir -p "$ROOT/usr/$d"
		cp -a "$ROOT/$d/." "$ROOT/usr/$d/"
		rm -rf "${ROOT:?}/$d"
	fi
done
# What the maintainer scripts would have made: pluto's run folder and its
# NSS database, empty, no password (ipsec initnss; made here once rather
# than by every pluto in the emulated VM, where it takes seconds).
mkdir -p "$ROOT/run/pluto" "$ROOT/var/lib/ipsec/nss"
LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu "$ROOT/usr/bin/certutil" -N \
	-d "sql:$ROOT/var/lib/ipsec/nss" --empty-password
echo "kernel-test-libreswan: $(echo $need | wc -w) packages in $ROOT: $need"
