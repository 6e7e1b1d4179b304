package quickmode_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// liar is a client that runs Mode Config for real (the Transaction
// exchange, its own lease store) and then claims another address as its
// side of the tunnel, as a hostile road warrior would.
type liar struct {
	*stack.ModeConfig
	claim netip.Addr
}

func (l liar) VirtualIP(daemon.Cookies) (netip.Addr, bool) { return l.claim, true }

// TestModeConfigSelectors: B is a road warrior gateway with a Mode
// Config pool. A client that got 10.99.0.1 from it proposes that address
// as its side of the tunnel (its local selector is its assigned address,
// whatever its local-address says) and gets its SAs; a peer proposing its
// own address, or another address of the pool, is refused with message
// 54, the reason, and no SA.
func TestModeConfigSelectors(t *testing.T) {
	gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: "-",
		Pools: "rw: {range: 10.99.0.0/24, dns: [198.51.100.53]}", ModeConfig: "{pool: rw}"}
	client := stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: "10.0.0.0/8", RemoteAddress: "198.51.100.0/24",
		ModeConfig: "{request: true}"}
	for _, tc := range []struct {
		name       string
		claim      string // the address the client proposes ("": the one it got)
		accepted   bool
		reasonPart string
	}{
		{"assigned", "", true, ""},
		{"own-address", stacktest.HostA, false, "is the address leased to it, 10.99.0.1, not " + stacktest.HostA},
		{"neighbour", "10.99.0.2", false, "is the address leased to it, 10.99.0.1, not 10.99.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				oa := stacktest.Options{Net: nw}
				if tc.claim != "" {
					oa.Edit = func(s *stack.Stack) { s.IPsec.VirtualIPs = liar{s.ModeConfig, netip.MustParseAddr(tc.claim)} }
				}
				a, b := stacktest.Pair(t, client, oa, gw, stacktest.Options{Net: nw})
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
					if len(ls) != 1 || ls[0].Address != "10.99.0.1" || !ls[0].Online || ls[0].Identity != stacktest.HostA {
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
