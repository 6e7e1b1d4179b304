# minbase.sh: sourced by scripts/ci-fresh.sh and scripts/interop-docker.sh.
# minbase_tar CACHE WORK makes (once) and names a tarball of a bare Debian
# 12 root, `debootstrap --variant=minbase bookworm` from the mirror this
# machine's apt uses, cached as CACHE/bookworm-minbase.tar; WORK holds the
# temporary root. It prints the tarball's path on standard output and its
# progress on standard error. Root and debootstrap.

# minbase_mirror: $MINBASE_MIRROR, else the first deb URI of this machine's
# apt sources, else Debian's own.
minbase_mirror() {
	local m=${MINBASE_MIRROR:-}
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2; exit}')
	[ -n "$m" ] || m=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$m" ] || m=http://deb.debian.org/debian
	echo "$m"
}

minbase_tar() {
	local cache=$1 work=$2 suite=bookworm
	local base="$cache/$suite-minbase.tar" mirror tmp t0
	if [ ! -s "$base" ]; then
		mirror=$(minbase_mirror)
		echo "minbase: debootstrap --variant=minbase $suite from $mirror (cached in $base)" >&2
		mkdir -p "$cache"
		tmp=$(mktemp -d "$work/iked-minbase.XXXXXX")
		t0=$(date +%s)
		if ! debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1; then
			tail -n 30 "$tmp.log" >&2
			rm -rf --one-file-system "$tmp" "$tmp.log"
			return 1
		fi
		tar -C "$tmp" -cf "$base.part" . && mv "$base.part" "$base"
		rm -rf --one-file-system "$tmp" "$tmp.log"
		echo "minbase: base root made in $(($(date +%s) - t0)) s" >&2
	fi
	echo "$base"
}
