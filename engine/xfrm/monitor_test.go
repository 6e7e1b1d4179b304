//go:build linux

package xfrm

import (
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/ with the kernel's messages")

// kernelMessages records what the monitor receives, for the golden files.
type kernelMessages struct {
	mu   sync.Mutex
	msgs map[uint16][]byte
}

func (k *kernelMessages) hook(m syscall.NetlinkMessage) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.msgs[m.Header.Type]; !ok {
		k.msgs[m.Header.Type] = append([]byte(nil), m.Data...)
	}
}

func (k *kernelMessages) save(t *testing.T, typ uint16, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !*update {
		return
	}
	d, ok := k.msgs[typ]
	if !ok {
		t.Fatalf("no message of type %d to save", typ)
	}
	if err := os.WriteFile(filepath.Join("testdata", name), d, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitEvent(t *testing.T, b *Backend, kind engine.EventKind, d time.Duration) engine.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-b.Notifications():
			if ev.Kind == kind {
				return ev
			}
			t.Logf("other event: %v", ev)
		case <-deadline:
			t.Fatalf("no %s within %s", kind, d)
		}
	}
}

// TestAcquire sends a UDP packet inside the namespace to an address an
// outbound policy covers; with no SA the kernel asks for one.
func TestAcquire(t *testing.T) {
	ns, h := testNS(t)
	// This kernel has no dummy interfaces: a veth pair, both ends inside.
	run(t, "ip", "-n", ns, "link", "add", "xfa", "type", "veth", "peer", "name", "xfb")
	run(t, "ip", "-n", ns, "addr", "add", "198.51.100.1/24", "dev", "xfa")
	run(t, "ip", "-n", ns, "link", "set", "xfa", "up")
	run(t, "ip", "-n", ns, "link", "set", "xfb", "up")
	run(t, "ip", "-n", ns, "route", "add", "203.0.113.0/24", "dev", "xfa", "src", "198.51.100.1")

	b, rec := openRecording(t, h)
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	ps := engine.PoliciesFor(sel, engine.ModeTunnel, gw1, gw2, []engine.Protocol{engine.ProtoESP}, 21)
	if err := b.InstallPolicies(ps); err != nil {
		t.Fatal(err)
	}
	// bash's /dev/udp: the send itself fails (EAGAIN: no SA yet), which is
	// expected; what matters is the kernel's ACQUIRE.
	exec.Command("ip", "netns", "exec", ns, "bash", "-c", "echo xf > /dev/udp/203.0.113.9/53").Run()

	ev := waitEvent(t, b, engine.EventAcquire, 5*time.Second)
	a := ev.Acquire
	t.Logf("acquire: %+v", *a)
	if a.Local != gw1 || a.Remote != gw2 || a.Protocol != engine.ProtoESP || a.Mode != engine.ModeTunnel || a.ReqID != 21 {
		t.Errorf("acquire endpoints/protocol/mode/reqid: %+v", *a)
	}
	wantPkt := engine.Selector{Local: netip.MustParsePrefix("198.51.100.1/32"), Remote: netip.MustParsePrefix("203.0.113.9/32"), Protocol: 17, RemotePort: 53}
	got := a.Selector
	got.LocalPort = 0 // the source port is the ephemeral one bash got
	if got != wantPkt {
		t.Errorf("acquire selector %s, want %s", a.Selector, wantPkt)
	}
	if a.Policy.Dir != engine.DirOut || a.Policy.Selector != sel || a.Policy.Local != gw1 || a.Policy.Remote != gw2 || len(a.Policy.Protocols) != 1 {
		t.Errorf("acquire policy %+v", a.Policy)
	}
	if a.Seq == 0 {
		t.Error("acquire without sequence number")
	}
	rec.save(t, nl.XFRM_MSG_ACQUIRE, "acquire-v4-tunnel.bin")

	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "ip", "-n", ns, "xfrm", "policy"); out != "" {
		t.Fatalf("policies left:\n%s", out)
	}
	// The kernel's placeholder SA of the ACQUIRE (SPI 0, our reqid) goes
	// with the flush too.
	if out := run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
		t.Fatalf("SAs left:\n%s", out)
	}
}

// openRecording opens a backend in the namespace whose raw kernel
// messages rec keeps (rec.save writes them to testdata); it closes when
// the test ends.
func openRecording(t *testing.T, h netns.NsHandle) (*Backend, *kernelMessages) {
	t.Helper()
	rec := &kernelMessages{msgs: map[uint16][]byte{}}
	b := New(Options{Namespace: h})
	b.rawHook = rec.hook
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, rec
}

// TestExpireLarval: a reserved SPI that is never installed expires after
// net.core.xfrm_acq_expires, and the kernel reports a hard EXPIRE for it —
// the one EXPIRE this kernel (no ESP) can produce.
func TestExpireLarval(t *testing.T) {
	ns, h := testNS(t)
	run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.core.xfrm_acq_expires=1")
	b, rec := openRecording(t, h)
	spi, err := b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, ReqID: 5})
	if err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, b, engine.EventExpireHard, 10*time.Second)
	x := ev.Expire
	if !x.Hard || x.SA.SPI != spi || x.SA.Protocol != engine.ProtoESP || x.SA.Src != gw2 || x.SA.Dst != gw1 || x.ReqID != 5 {
		t.Errorf("expire %+v, want ESP[0x%08x] %s->%s reqid 5", *x, spi, gw2, gw1)
	}
	rec.save(t, nl.XFRM_MSG_EXPIRE, "expire-larval.bin")
	// The kernel removed it; Delete of the stale reservation is not an error
	// that leaves tracking behind.
	if err := b.Delete([]engine.SARef{x.SA}); err != nil {
		t.Fatalf("delete of an expired reservation: %v", err)
	}
	if err := b.Delete([]engine.SARef{x.SA}); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("delete of an unknown SA: %v", err)
	}
	if len(b.larval) != 0 {
		t.Fatal("stale reservation still tracked")
	}
}

// TestDecodeGolden decodes the kernel's own messages recorded in testdata
// (regenerate with -update as root), refuses every truncation that cuts
// the fixed part, and survives random bytes.
func TestDecodeGolden(t *testing.T) {
	acq, err := os.ReadFile("testdata/acquire-v4-tunnel.bin")
	if err != nil {
		t.Fatal(err)
	}
	a, err := DecodeAcquire(acq)
	if err != nil {
		t.Fatal(err)
	}
	if a.Local != gw1 || a.Remote != gw2 || a.ReqID != 21 || a.Selector.Remote != netip.MustParsePrefix("203.0.113.9/32") || a.Selector.RemotePort != 53 {
		t.Errorf("golden acquire: %+v", *a)
	}
	exp, err := os.ReadFile("testdata/expire-larval.bin")
	if err != nil {
		t.Fatal(err)
	}
	x, err := DecodeExpire(exp)
	if err != nil || !x.Hard || x.SA.Dst != gw1 || x.ReqID != 5 {
		t.Errorf("golden expire: %+v %v", x, err)
	}
	for i := range sizeAcquire {
		if _, err := DecodeAcquire(acq[:i]); err == nil {
			t.Fatalf("acquire prefix of %d bytes decoded", i)
		}
	}
	for i := range offExpHard + 1 {
		if _, err := DecodeExpire(exp[:i]); err == nil {
			t.Fatalf("expire prefix of %d bytes decoded", i)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := r.IntN(len(acq) + 64)
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 && n > sizeAcquire {
			copy(d, acq[:sizeAcquire]) // valid head, random attributes
		}
		DecodeAcquire(d)
		DecodeExpire(d)
	}
}

func FuzzDecodeAcquire(f *testing.F) {
	if acq, err := os.ReadFile("testdata/acquire-v4-tunnel.bin"); err == nil {
		f.Add(acq)
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		DecodeAcquire(d)
		DecodeExpire(d)
	})
}
