#!/usr/bin/env bash
# kernel-test.sh: iked's kernel data plane in a real Linux kernel.
#
# This machine's kernel may have no ESP, AH or IPComp, so the tests that
# need them run in a virtual machine: qemu (software emulation when there is
# no /dev/kvm) boots Debian's kernel (linux-image-amd64) with a busybox
# initramfs that loads the 9p and overlay modules, mounts this machine's root
# read-only over virtio-9p with a tmpfs overlay on top, and switches root to
# it. The guest then runs scripts/kernel-test-guest.sh, which runs the xfrm
# engine's tests and the interop package's kernel scenarios (iked's SAs
# carrying traffic against strongSwan with kernel-netlink) in network
# namespaces inside the guest. A second, writable 9p export carries the
# binaries in and the logs and the status out.
#
# Usage (root): scripts/kernel-test.sh [go test -run pattern for interop]
# Environment: KT_OUT (results folder, default bin/kernel-test), KT_DEBS
# (libreswan's .deb files, default bin/kernel-test-debs), KT_TIMEOUT
# (seconds for the whole VM run, default 1800; the scenarios get
# all but 180 of them), KT_XFRM=0 (skip the xfrm
# engine's tests), KT_MEM (MiB, default 1536),
# KT_SMP (default 2), KT_ACCEL (kvm, tcg; default auto: KVM when
# /dev/kvm runs the CPU model), KT_DEBUG (a command run in the guest, in the results
# folder, instead of the tests), KT_KERNEL (a vmlinuz; default the newest in /boot with
# its modules in /lib/modules).
# Needs: qemu-system-x86, linux-image-amd64, busybox-static, cpio (Debian);
# apt-get download reaching Debian's mirror for libreswan (once, cached).
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH

cd "$(dirname "$0")/.."
REPO=$(pwd)
OUT=${KT_OUT:-$REPO/bin/kernel-test}
TIMEOUT=${KT_TIMEOUT:-1800}
MEM=${KT_MEM:-1536}
SMP=${KT_SMP:-2}
RUN=${1:-${KT_RUN:-^TestKernel}}
GO=${GO:-go}

die() { echo "kernel-test: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root (the guest runs this machine's root file system as root)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox missing (apt-get install busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked; the initramfs needs busybox-static"
command -v cpio >/dev/null || die "cpio missing"

# The kernel: the newest /boot/vmlinuz-* whose modules are installed.
KERNEL=${KT_KERNEL:-}
if [ -z "$KERNEL" ]; then
	for k in $(ls -v /boot/vmlinuz-* 2>/dev/null | sort -rV); do
		if [ -f "/lib/modules/${k#/boot/vmlinuz-}/modules.dep" ]; then KERNEL=$k; break; fi
	done
fi
[ -n "$KERNEL" ] || die "no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)"
KVER=${KERNEL#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep"

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/logs"
START=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $START" | awk '{printf "%.1f", $1-$2}'; }

# 1. The binaries the guest runs: building inside the emulated guest would
# take minutes.
echo "kernel-test: building iked and the test binaries"
$GO build -o "$OUT/bin/iked" ./cmd/iked
$GO build -o "$OUT/bin/ikectl" ./cmd/ikectl
$GO build -o "$OUT/bin/ikeload" ./cmd/ikeload
$GO test -c -o "$OUT/bin/interop.test" ./interop
$GO test -c -o "$OUT/bin/xfrm.test" ./engine/xfrm
$GO build -o "$OUT/bin/keycompare" ./interop/cmd/keycompare
echo "kernel-test: built in $(elapsed) s"

# libreswan for scenarios 14-17: Debian's package and the libraries this
# machine lacks, fetched once into KT_DEBS and unpacked for the guest
# (scripts/kernel-test-libreswan.sh). Without them those scenarios fail
# (under CI) or skip, and the others run.
if ! ./scripts/kernel-test-libreswan.sh "${KT_DEBS:-$REPO/bin/kernel-test-debs}" "$OUT/libreswan"; then
	echo "kernel-test: WARNING: no libreswan for the guest; scenarios 14-17 cannot run" >&2
	rm -rf "$OUT/libreswan"
fi
# The RSA scenarios' CA and certificates, made here by strongSwan's pki
# as interop.MakePKI makes them (RSA 2048; the DN "C=CH, O=iked test,
# CN=name"): generating RSA keys takes minutes in the emulated VM. Without
# pki the tests make them in the guest.
make_pki() {
	local P=$1 n
	mkdir -p "$P" &&
		pki --gen --type rsa --size 2048 --outform pem >"$P/ca-key.pem" &&
		pki --self --ca --lifetime 3650 --in "$P/ca-key.pem" --type rsa \
			--dn "C=CH, O=iked test, CN=iked test CA" --outform pem >"$P/ca-cert.pem" || return 1
	for n in iked.example peer.example; do
		pki --gen --type rsa --size 2048 --outform pem >"$P/$n-key.pem" &&
			pki --pub --in "$P/$n-key.pem" --type rsa --outform pem >"$P/$n-pub.pem" &&
			pki --issue --in "$P/$n-pub.pem" --lifetime 3650 --cacert "$P/ca-cert.pem" --cakey "$P/ca-key.pem" \
				--dn "C=CH, O=iked test, CN=$n" --san "$n" --outform pem >"$P/$n-cert.pem" || return 1
	done
	openssl pkcs12 -export -in "$P/peer.example-cert.pem" -inkey "$P/peer.example-key.pem" \
		-certfile "$P/ca-cert.pem" -name pluto -passout pass: -out "$P/peer.example.p12" &&
		chmod 600 "$P"/*-key.pem "$P"/*.p12
}
if command -v pki >/dev/null && command -v openssl >/dev/null; then
	# pki's notices (plugins it cannot load) go to the log.
	if ! make_pki "$OUT/libreswan-pki" 2>"$OUT/logs/libreswan-pki.log"; then
		echo "kernel-test: WARNING: pki failed (logs/libreswan-pki.log); the RSA scenarios make their certificates in the VM" >&2
		rm -rf "$OUT/libreswan-pki"
	fi
fi

# 2. The initramfs: static busybox, the modules that mount the root, /init.
IRD=$(mktemp -d /tmp/kernel-test-initramfs.XXXXXX)
trap 'rm -rf "$IRD"' EXIT
mkdir -p "$IRD"/{bin,sbin,proc,sys,dev,host,rw,newroot,"lib/modules/$KVER"}
cp "$BUSYBOX" "$IRD/bin/busybox"
# Each module with its dependencies, dependencies first (modules.dep lists
# them from the last to load to the first).
LOAD=()
add_module() {
	local line path deps d
	line=$(grep -E "(^|/)$1\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" | head -1) || die "module $1 not in $MODDIR"
	path=${line%%:*}
	deps=${line#*:}
	for d in $(echo $deps | tr ' ' '\n' | tac); do
		d=$(basename "$d"); d=${d%%.ko*}
		add_module "$d"
	done
	for d in "${LOAD[@]}"; do [ "$d" = "$path" ] && return 0; done
	mkdir -p "$IRD/lib/modules/$KVER/$(dirname "$path")"
	cp "$MODDIR/$path" "$IRD/lib/modules/$KVER/$path"
	LOAD+=("$path")
}
for m in virtio_pci 9pnet_virtio 9p overlay; do add_module "$m"; done
{
	echo '#!/bin/busybox sh'
	echo '# generated by scripts/kernel-test.sh'
	echo '/bin/busybox --install -s /bin'
	echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
	for p in "${LOAD[@]}"; do
		case $p in *.ko) echo "insmod /lib/modules/$KVER/$p" ;; *) die "compressed module $p: not supported" ;; esac
	done
	cat <<'EOF'
fail() { echo "kernel-test-init: $*"; echo o > /proc/sysrq-trigger; sleep 10; }
# The host's root, read-only; cache=loose: nothing changes it while we run.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 host /host || fail "mount host root"
mount -t tmpfs -o size=70% tmpfs /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "overlay"
mkdir -p /newroot/kt-out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /newroot/kt-out || fail "mount out"
umount /proc /sys
mount --move /dev /newroot/dev
# switch_root makes the overlay the root of every process, the kernel's
# module loader (request_module runs /sbin/modprobe) included.
exec switch_root /newroot /bin/sh /kt-out/guest-init
EOF
} > "$IRD/init"
chmod +x "$IRD/init"
(cd "$IRD" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.gz"

# 3. What the guest runs, through the out export: the guest script and the
# test packages' folders with their testdata (the tests run there). The
# repository itself may not be visible in the guest: its /tmp and /run are
# its own.
cp scripts/kernel-test-guest.sh "$OUT/guest.sh"
for pkg in engine/xfrm interop; do
	mkdir -p "$OUT/src/$pkg"
	[ -d "$pkg/testdata" ] && cp -r "$pkg/testdata" "$OUT/src/$pkg/"
done
cat > "$OUT/guest-init" <<EOF
#!/bin/sh
# generated by scripts/kernel-test.sh: PID 1 in the guest.
export KT_XFRM=${KT_XFRM:-1}
export KT_TEST_TIMEOUT=$((TIMEOUT - 180))
export KT_DEBUG=$(printf %q "${KT_DEBUG:-}")
exec /kt-out/guest.sh /kt-out "$RUN"
EOF

# 4. Boot. -no-reboot and panic=-1: any failure of PID 1 ends qemu.
ACCEL=tcg,thread=multi
if [ "${KT_ACCEL:-auto}" = kvm ] || { [ "${KT_ACCEL:-auto}" = auto ] && [ -w /dev/kvm ]; }; then
	# A nested KVM may refuse the CPU model (qemu aborts setting an MSR at
	# the first reset): try it, paused, for 2 s; still running is good.
	set +e
	# (In a shell of its own, whose report of qemu's abort goes to the log.)
	sh -c 'timeout 2 qemu-system-x86_64 -machine q35 -accel kvm -cpu max -display none -nodefaults -no-reboot -S' \
		</dev/null >"$OUT/kvm-probe.log" 2>&1
	prc=$?
	set -e
	if [ $prc = 124 ]; then
		ACCEL=kvm
	else
		echo "kernel-test: /dev/kvm does not run this CPU model ($(grep -m1 error "$OUT/kvm-probe.log")); emulating"
	fi
fi
echo "kernel-test: booting $KERNEL ($ACCEL, $SMP cpus, $MEM MiB); console in $OUT/console.log"
BOOT=$(date +%s.%N)
set +e
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
	-machine q35 -accel $ACCEL -cpu max -smp "$SMP" -m "$MEM" \
	-nographic -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$OUT/initramfs.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
	-fsdev local,id=host,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=host,mount_tag=host \
	-fsdev local,id=out,path="$OUT",security_model=none,multidevs=remap \
	-device virtio-9p-pci,fsdev=out,mount_tag=out \
	</dev/null >"$OUT/console.log" 2>&1
QRC=$?
set -e
RUNTIME=$(echo "$(date +%s.%N) $BOOT" | awk '{printf "%.1f", $1-$2}')

# 5. The report.
if [ -f "$OUT/logs/boot-seconds" ]; then
	echo "kernel-test: guest ready $(cat "$OUT/logs/boot-seconds") s after boot (kernel uptime)"
fi
[ -f "$OUT/logs/summary.txt" ] && cat "$OUT/logs/summary.txt"
echo "kernel-test: VM ran $RUNTIME s, whole run $(elapsed) s; logs in $OUT/logs"
if [ $QRC = 124 ] || [ $QRC = 137 ]; then
	echo "kernel-test: FAIL: the VM did not finish in $TIMEOUT s; console tail:"
	tail -30 "$OUT/console.log"
	exit 1
fi
STATUS=$(cat "$OUT/logs/status" 2>/dev/null || echo "none")
if [ "$STATUS" != 0 ]; then
	echo "kernel-test: FAIL: guest status $STATUS (qemu $QRC); console tail:"
	tail -30 "$OUT/console.log"
	exit 1
fi
echo "kernel-test: PASS"
