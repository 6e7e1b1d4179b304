#!/bin/bash
# kernel-test-guest.sh: PID 1 of the kernel-test VM (see kernel-test.sh).
# Mounts what a system has, loads the kernel's IPsec modules, runs the xfrm
# engine's tests and the interop kernel scenarios with IKED_KERNEL_TEST=1,
# writes logs, a summary and the status to $OUT/logs and powers off. Never
# run it on a real machine: it is meant to be init.
OUT=${1:?results folder}
RUN=${2:-.}
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
LOGS=$OUT/logs
SRC=$OUT/src # the test packages' folders (testdata), copied by kernel-test.sh

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}
if [ $$ != 1 ]; then
	echo "kernel-test-guest.sh: not PID 1; this is the VM's init, run scripts/kernel-test.sh" >&2
	exit 2
fi
trap poweroff_now EXIT

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm /run/netns
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname kernel-test
awk '{print $1}' /proc/uptime >"$LOGS/boot-seconds"

{
	echo "kernel $(uname -r), $(nproc) cpus"
	grep -m1 -o -w aes /proc/cpuinfo >/dev/null && echo "cpu has AES-NI"
	# One modprobe for all: each exec costs a second in an emulated VM.
	modprobe -a xfrm_user xfrm_algo esp4 esp6 ah4 ah6 xfrm_ipcomp ipcomp ipcomp6 xfrm4_tunnel xfrm6_tunnel \
		tunnel4 tunnel6 xfrm_interface veth nf_tables nft_masq nft_nat nft_ct nft_log nfnetlink_log \
		nf_nat nf_conntrack af_packet aesni_intel gcm authenc echainiv seqiv sha256_generic sha1_generic \
		sha512_generic cbc ctr deflate cmac xcbc ccm chacha20poly1305 \
		ppp_generic pppox l2tp_core l2tp_netlink l2tp_ppp 2>&1 || echo "modprobe failed"
	lsmod | sort
} >"$LOGS/modules.log" 2>&1
ip link set lo up

# The binaries from the results export would be read over 9p at every exec
# (ikectl runs many times): copy them to the guest's memory. strongSwan's
# libraries come from the host's root, cached once read: read them now.
BIN=/run/kt-bin
mkdir -p "$BIN"
cp "$OUT"/bin/* "$BIN"/
# libreswan's unpacked files (scripts/kernel-test-libreswan.sh): pluto runs
# in an overlay of them on the root (interop/libreswan.go), and overlayfs
# wants its layers on different file systems: /run is a tmpfs.
if [ -d "$OUT/libreswan" ]; then
	cp -a "$OUT/libreswan" /run/kt-libreswan && export IKED_LIBRESWAN_ROOT=/run/kt-libreswan
fi
[ -d "$OUT/libreswan-pki" ] && export IKED_LIBRESWAN_PKI=$OUT/libreswan-pki
(cat /usr/sbin/charon-systemd /usr/sbin/swanctl /usr/lib/ipsec/*.so* /usr/lib/ipsec/plugins/*.so \
	/usr/bin/ip /usr/sbin/nft /etc/strongswan.d/*.conf /etc/strongswan.d/charon/*.conf >/dev/null 2>&1 &)

# The kernel's crypto API instantiates an algorithm (and asks modprobe for
# its templates) the first time an SA uses it; in the emulated VM that can
# take seconds, long enough for charon to stall its vici answers while it
# installs its first SA. Instantiate the scenarios' algorithms once here.
{
	ip netns add kt-warm
	K16=0x00112233445566778899aabbccddeeff
	K32=$K16${K16#0x}
	w() { ip -n kt-warm xfrm state add src 192.0.2.1 dst 192.0.2.2 "$@" || echo "warm-up failed: $*"; }
	w proto esp spi 0x100 enc 'cbc(aes)' $K16 auth-trunc 'hmac(sha256)' ${K32} 128
	w proto esp spi 0x101 enc 'cbc(aes)' $K16 auth-trunc 'hmac(sha1)' ${K16}00112233 96
	w proto esp spi 0x102 aead 'rfc4106(gcm(aes))' ${K16}00112233 128
	w proto ah spi 0x103 auth-trunc 'hmac(sha256)' ${K32} 128
	w proto comp spi 0x104 comp deflate
	ip -n kt-warm xfrm state flush
	ip netns del kt-warm
} >"$LOGS/warm-up.log" 2>&1

# KT_DEBUG: a command to run instead of the tests (its output in debug.log).
if [ -n "${KT_DEBUG:-}" ]; then
	(cd "$OUT" && bash -c "$KT_DEBUG") >"$LOGS/debug.log" 2>&1
	echo $? >"$LOGS/status"
	exit
fi

status=0
t0=$(awk '{print $1}' /proc/uptime)

# The xfrm engine's own tests: with IKED_KERNEL_TEST set they require the
# kernel to accept ESP/AH/IPComp instead of stopping at EPROTONOSUPPORT.
[ "${KT_XFRM:-1}" = 0 ] || (cd "$SRC/engine/xfrm" && IKED_KERNEL_TEST=1 timeout 180 "$BIN/xfrm.test" -test.v -test.timeout 170s) \
	>"$LOGS/xfrm-test.log" 2>&1 || status=1
t1=$(awk '{print $1}' /proc/uptime)

# The scenarios: iked's SAs carrying traffic.
(cd "$SRC/interop" && IKED_KERNEL_TEST=1 IKED_BIN_DIR="$BIN" KT_LOGS="$LOGS" \
	timeout $((${KT_TEST_TIMEOUT:-840} + 10)) "$BIN/interop.test" -test.v -test.timeout "${KT_TEST_TIMEOUT:-840}s" -test.parallel 4 -test.run "$RUN") \
	>"$LOGS/interop-test.log" 2>&1 || status=1
t2=$(awk '{print $1}' /proc/uptime)

{
	echo "== xfrm engine tests (kernel ESP/AH/IPComp): $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
	[ -f "$LOGS/xfrm-test.log" ] && grep -E '^(--- |ok|FAIL|PASS)' "$LOGS/xfrm-test.log" | grep -v -- '--- PASS: .*/' | sed 's/^/  /'
	echo "== scenarios: $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}') s"
	grep -h '^KT ' "$LOGS"/scenario-*.txt 2>/dev/null | sed 's/^KT /  /'
	grep -E '^(--- FAIL|FAIL|ok|PASS)' "$LOGS/interop-test.log" | sed 's/^/  /'
} >"$LOGS/summary.txt"
dmesg >"$LOGS/dmesg.log"
echo "$status" >"$LOGS/status"
