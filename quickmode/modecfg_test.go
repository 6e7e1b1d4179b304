package quickmode_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/modecfg"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// transaction stands in for the Transaction exchange, which carries a
// gateway's Mode Config answer (Store.Reply) to its client (Store.Apply)
// on each ISAKMP SA before Quick Mode: here both run at the first Quick
// Mode's look-up of the SA's address, with the real stores of both
// sides, each with its own bbolt file.
type transaction struct {
	mu             sync.Mutex
	gw, cl         *modecfg.Store
	gwConn, clConn *policymgr.Connection
}

type gatewaySide struct{ *transaction }
type clientSide struct{ *transaction }

func (x gatewaySide) VirtualIP(owner daemon.Cookies) (netip.Addr, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if a, ok := x.gw.VirtualIP(owner); ok {
		return a, true
	}
	if _, err := x.gw.Reply(x.gwConn, owner, "ipv4:"+stacktest.HostA, "", nil); err != nil {
		return netip.Addr{}, false
	}
	return x.gw.VirtualIP(owner)
}

func (x gatewaySide) DNS(owner daemon.Cookies) ([]netip.Addr, string) { return x.gw.DNS(owner) }

func (x clientSide) VirtualIP(owner daemon.Cookies) (netip.Addr, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if a, ok := x.cl.VirtualIP(owner); ok {
		return a, true
	}
	got, err := x.gw.Reply(x.gwConn, owner, "ipv4:"+stacktest.HostA, "", x.cl.Request(x.clConn))
	if err != nil || x.cl.Apply(x.clConn, owner, got) != nil {
		return netip.Addr{}, false
	}
	return x.cl.VirtualIP(owner)
}

func (x clientSide) DNS(owner daemon.Cookies) ([]netip.Addr, string) { return x.cl.DNS(owner) }

// linkOf loads p's policy as the node will and returns its connection.
func linkOf(t *testing.T, p stacktest.Policy, local, remote string) *policymgr.Connection {
	t.Helper()
	p.Local, p.Remote = local, remote
	path := filepath.Join(t.TempDir(), "iked.yaml")
	if err := os.WriteFile(path, []byte(p.YAML("/nonexistent.sock")), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, msgs, err := policymgr.Load(path, policymgr.LoadOptions{})
	if err != nil || pol == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	c, _ := pol.Connection("link")
	return c
}

func openStore(t *testing.T) *modecfg.Store {
	t.Helper()
	s, err := modecfg.Open(t.TempDir(), modecfg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestModeConfigSelectors: B is a road warrior gateway with a Mode
// Config pool. A client that got 10.99.0.1 from it proposes that address
// as its side of the tunnel (its local selector is its assigned address,
// whatever its local-address says) and gets its SAs; a peer proposing its
// own address, or another address of the pool, is refused with message
// 54, the reason, and no SA.
func TestModeConfigSelectors(t *testing.T) {
	gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: "-",
		Pools: "rw: {range: 10.99.0.0/24, dns: [198.51.100.53]}", ModeConfig: "{pool: rw}"}
	for _, tc := range []struct {
		name       string
		client     stacktest.Policy
		accepted   bool
		reasonPart string
	}{
		{"assigned", stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: "10.0.0.0/8", RemoteAddress: "198.51.100.0/24",
			ModeConfig: "{request: true}"}, true, ""},
		{"own-address", stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: stacktest.HostA, RemoteAddress: "198.51.100.0/24"},
			false, "is the address leased to it, 10.99.0.1, not " + stacktest.HostA},
		{"neighbour", stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: "10.99.0.2", RemoteAddress: "198.51.100.0/24"},
			false, "is the address leased to it, 10.99.0.1, not 10.99.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &transaction{gw: openStore(t), cl: openStore(t),
				gwConn: linkOf(t, gw, stacktest.HostB, stacktest.HostA), clConn: linkOf(t, tc.client, stacktest.HostA, stacktest.HostB)}
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				oa := stacktest.Options{Net: nw}
				if x.clConn.ModeConfig != nil {
					oa.Edit = func(s *stack.Stack) { s.IPsec.VirtualIPs = clientSide{x} }
				}
				ob := stacktest.Options{Net: nw, Edit: func(s *stack.Stack) { s.IPsec.VirtualIPs, s.Leases = gatewaySide{x}, x.gw }}
				a, b := stacktest.Pair(t, tc.client, oa, gw, ob)
				if tc.accepted {
					b.WaitSAs(t, 2, 10*time.Second)
					for _, r := range b.Engine.SAs() {
						if r.Selector.Remote.String() != "10.99.0.1/32" {
							t.Errorf("gateway's SA for %v, want the lease 10.99.0.1", r.Selector)
						}
					}
					for _, r := range a.Engine.SAs() {
						if r.Selector.Local.String() != "10.99.0.1/32" {
							t.Errorf("client's SA for %v, want its address 10.99.0.1", r.Selector)
						}
					}
					ls := b.Ctl(t, control.CmdListLeases, "").Leases
					if len(ls) != 1 || ls[0].Address != "10.99.0.1" || !ls[0].Online || ls[0].Identity != "ipv4:"+stacktest.HostA {
						t.Errorf("ikectl list-leases: %+v", ls)
					}
					up := b.WaitRecord(t, "IPsec SA established", 0, 10*time.Second)
					if len(up) == 0 || up[0]["virtual-ip"] != "10.99.0.1" {
						t.Errorf("gateway's ipsec-up event: %v", up)
					}
					if up := a.WaitRecord(t, "IPsec SA established", 0, 10*time.Second); len(up) == 0 ||
						up[0]["virtual-ip"] != "10.99.0.1" || up[0]["dns"] != "198.51.100.53" {
						t.Errorf("client's ipsec-up event: %v", up)
					}
					return
				}
				b.WaitRecord(t, "", 54, 10*time.Second)
				time.Sleep(5 * time.Second)
				if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
					t.Errorf("%d IPsec SAs installed for a refused selector", n)
				}
				if !strings.Contains(b.Log.String(), tc.reasonPart) {
					t.Errorf("the log does not say why (%q):\n%s", tc.reasonPart, b.Log.String())
				}
			})
		})
	}
}
