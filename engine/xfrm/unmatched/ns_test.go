//go:build linux

package unmatched

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/iked/iked/interop"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// newNS creates a namespace named um-<pid>-<name> (this package's prefix)
// with lo up, deleted when the test ends. It skips without root, except
// under CI=true (interop/env.go's rule).
func newNS(t *testing.T, name string) (string, netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but the test is not root")
		}
		t.Skip("needs root: creates network namespaces and an nftables table")
	}
	n := fmt.Sprintf("um-%d-%s", os.Getpid(), name)
	run(t, "ip", "netns", "add", n)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
	run(t, "ip", "-n", n, "link", "set", "lo", "up")
	h, err := netns.GetFromName(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return n, h
}

// run runs a command on the host (interop.Exec).
var run = interop.Exec

// in runs fn on a thread switched into h: sockets it opens stay there.
func in(t *testing.T, h netns.NsHandle, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
		if err := netns.Set(h); err != nil {
			t.Error(err)
			return
		}
		fn()
	}()
	<-done
}

type lines struct {
	mu sync.Mutex
	ms []notify.Message
}

func (l *lines) emit(m notify.Message, _ ...zap.Field) {
	l.mu.Lock()
	l.ms = append(l.ms, m)
	l.mu.Unlock()
}

func (l *lines) get() []notify.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]notify.Message(nil), l.ms...)
}

// TestNamespaceDropsAndLogs runs the watcher on this host's kernel: UDP
// packets (IPv4 and IPv6) of the protected ranges sent in clear over a
// veth are dropped by the table (nft lists the match as "meta ipsec
// missing", secpath's other name), counted by its rules and logged as
// message 7, once per flow; IKE's port still gets through, and Close
// removes the table.
func TestNamespaceDropsAndLogs(t *testing.T) {
	gwName, gw := newNS(t, "gw")
	peerName, peer := newNS(t, "peer")
	run(t, "ip", "-n", gwName, "link", "add", "umg", "type", "veth", "peer", "name", "ump", "netns", peerName)
	run(t, "ip", "-n", gwName, "addr", "add", "192.0.2.1/24", "dev", "umg")
	run(t, "ip", "-n", peerName, "addr", "add", "192.0.2.2/24", "dev", "ump")
	run(t, "ip", "-n", gwName, "addr", "add", "2001:db8::1/64", "dev", "umg", "nodad")
	run(t, "ip", "-n", peerName, "addr", "add", "2001:db8::2/64", "dev", "ump", "nodad")
	run(t, "ip", "-n", gwName, "link", "set", "umg", "up")
	run(t, "ip", "-n", peerName, "link", "set", "ump", "up")

	var got lines
	flows := []Flow{{Name: "host", LocalFrom: netip.MustParseAddr("192.0.2.1"), LocalTo: netip.MustParseAddr("192.0.2.1"),
		RemoteFrom: netip.MustParseAddr("192.0.2.2"), RemoteTo: netip.MustParseAddr("192.0.2.2")},
		{Name: "v6", LocalFrom: netip.MustParseAddr("2001:db8::1"), LocalTo: netip.MustParseAddr("2001:db8::1"),
			RemoteFrom: netip.MustParseAddr("2001:db8::2"), RemoteTo: netip.MustParseAddr("2001:db8::2")}}
	w, err := Start(Options{IKEPorts: []uint16{500, 4500}, Emit: got.emit, NetNS: int(gw)}, flows)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			w.Close()
		}
	})
	if out := run(t, "ip", "netns", "exec", gwName, "nft", "list", "table", "inet", TableName); !strings.Contains(out, "meta ipsec missing") {
		t.Errorf("the table has no secpath match:\n%s", out)
	}

	// Listeners on the gateway: 9999 is protected, 500 is IKE.
	var prot, ike *net.UDPConn
	in(t, gw, func() {
		var err error
		if prot, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9999}); err != nil {
			t.Error(err)
		}
		if ike, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 500}); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer prot.Close()
	defer ike.Close()
	in(t, peer, func() {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 4321})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for range 3 {
			c.WriteToUDP([]byte("clear"), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9999})
		}
		c.WriteToUDP([]byte("ike"), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 500})
		c6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP("2001:db8::2"), Port: 4321})
		if err != nil {
			t.Error(err)
			return
		}
		defer c6.Close()
		c6.WriteToUDP([]byte("clear"), &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 9999})
	})

	buf := make([]byte, 64)
	ike.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, _, err := ike.ReadFromUDP(buf); err != nil || string(buf[:n]) != "ike" {
		t.Errorf("IKE port: %q %v, want the packet through", buf[:n], err)
	}
	prot.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := prot.ReadFromUDP(buf); err == nil {
		t.Errorf("protected port received %q in clear, want it dropped", buf[:n])
	}

	deadline := time.Now().Add(3 * time.Second)
	for w.Stats().Dropped < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := w.Stats()
	if st.Dropped != 4 || st.Logged != 2 || st.Suppressed != 2 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 4 dropped, 2 logged, 2 suppressed", st)
	}
	var texts []string
	for _, m := range got.get() {
		if m.Num != 7 {
			t.Errorf("message %d logged", m.Num)
		}
		texts = append(texts, m.Text)
	}
	slices.Sort(texts)
	want := []string{"Dropping IPv4 packet 192.0.2.2->192.0.2.1 udp:4321->9999", "Dropping IPv6 packet 2001:db8::2->2001:db8::1 udp:4321->9999"}
	if !slices.Equal(texts, want) {
		t.Errorf("logged %q, want %q", texts, want)
	}
	if n := ruleDrops(t, gw); n != 4 {
		t.Errorf("the drop rules' counters sum to %d, want 4", n)
	}

	closed = true
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", gwName, "nft", "list", "table", "inet", TableName).CombinedOutput(); err == nil {
		t.Errorf("the table is still there after Close:\n%s", out)
	}
}

// ruleDrops sums the packet counters of the table's input chain.
func ruleDrops(t *testing.T, h netns.NsHandle) uint64 {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	rs, err := c.GetRules(tb, &nftables.Chain{Name: "input", Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, r := range rs {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				n += ctr.Packets
			}
		}
	}
	return n
}

// TestControlFollowsPolicy drives the watcher as the daemon does: on at
// start with the policy's ranges and IKE ports, replaced at a reload,
// removed when a reload turns log-unmatched off.
func TestControlFollowsPolicy(t *testing.T) {
	name, h := newNS(t, "ctl")
	conn := func(local, remote string) *policymgr.Connection {
		return &policymgr.Connection{Name: "net",
			Local:  policymgr.Selector{Addr: policymgr.RangeOf(netip.MustParsePrefix(local))},
			Remote: policymgr.Selector{Addr: policymgr.RangeOf(netip.MustParsePrefix(remote))}}
	}
	p := &policymgr.Policy{Daemon: policymgr.Daemon{IKEPort: 500, NATTPort: 4500}, Connections: []*policymgr.Connection{
		conn("198.51.100.0/24", "203.0.113.0/24"),
		{Name: "everything"}, // any to any: left out
	}}
	c := &Control{Options: Options{NetNS: int(h)}}
	t.Cleanup(func() { c.Close() })
	list := func() string {
		out, _ := exec.Command("ip", "netns", "exec", name, "nft", "list", "table", "inet", TableName).CombinedOutput()
		return string(out)
	}
	if err := c.Set(true, p); err != nil {
		t.Fatal(err)
	}
	out := list()
	for _, want := range []string{"udp dport 500 accept", "udp dport 4500 accept",
		"ip saddr 203.0.113.0-203.0.113.255 ip daddr 198.51.100.0-198.51.100.255", "log group 4242 drop"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "drop"); n != 2 { // one rule in input, one in forward
		t.Errorf("%d drop rules, want 2:\n%s", n, out)
	}

	p.Connections = []*policymgr.Connection{conn("2001:db8:1::/48", "2001:db8:2::/48")}
	if err := c.Set(true, p); err != nil {
		t.Fatal(err)
	}
	out = list()
	if !strings.Contains(out, "ip6 saddr 2001:db8:2::-2001:db8:2:ffff:ffff:ffff:ffff:ffff ip6 daddr 2001:db8:1::-2001:db8:1:ffff:ffff:ffff:ffff:ffff") || strings.Contains(out, "203.0.113") {
		t.Errorf("after the reload the table is:\n%s", out)
	}

	if err := c.Set(false, p); err != nil {
		t.Fatal(err)
	}
	if out := list(); strings.Contains(out, "chain") {
		t.Errorf("log-unmatched off but the table is there:\n%s", out)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
