package transaction_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// hostC is a second road warrior of the in-memory network.
const hostC = "192.0.2.3"

// raGateway is a road-warrior gateway: XAUTH against a users file, then
// an address of pool rw (pool, the pools item's mapping) kept under
// stateDir.
func raGateway(t *testing.T, pool, stateDir string) stacktest.Policy {
	p, _ := gateway(t, nil)
	p.Local, p.Remote = stacktest.HostB, stacktest.HostA
	p.Tunnel, p.RoadWarrior, p.LocalAddress, p.RemoteAddress = true, true, "198.51.100.0/24", "-"
	p.Pools, p.ModeConfig, p.StateDir = "rw: "+pool, "{pool: rw}", stateDir
	return p
}

// raClient is a road warrior on host: alice's XAUTH login, then Mode
// Config (pull), then Quick Mode for its address to the gateway's
// network.
func raClient(t *testing.T, host string) stacktest.Policy {
	p := client(t, "correct horse")
	p.Local, p.Remote = host, stacktest.HostB
	p.Tunnel, p.LocalAddress, p.RemoteAddress, p.ModeConfig = true, "10.0.0.0/8", "198.51.100.0/24", "{request: true}"
	return p
}

// leases is the gateway's `ikectl list-leases` as "address identity
// user online" lines.
func leases(t *testing.T, n *stacktest.Node) []string {
	var out []string
	for _, l := range n.Ctl(t, control.CmdListLeases, "").Leases {
		out = append(out, fmt.Sprintf("%s %s %s %v", l.Address, l.Identity, l.User, l.Online))
	}
	return out
}

// selectors returns the engine's SAs' selectors, one "local>remote" each.
func selectors(n *stacktest.Node) []string {
	var out []string
	for _, r := range n.Engine.SAs() {
		out = append(out, r.Selector.Local.String()+">"+r.Selector.Remote.String())
	}
	return out
}

// check fails t unless client A's SAs have 10.99.0.11 as local selector
// and the gateway's leases are want.
func check(t *testing.T, a, gw *stacktest.Node, want string) {
	t.Helper()
	for _, s := range selectors(a) {
		if !strings.HasPrefix(s, "10.99.0.11/32>") {
			t.Errorf("client A's SA %s, want its address 10.99.0.11 as local selector", s)
		}
	}
	if got := strings.Join(leases(t, gw), "; "); got != want {
		t.Errorf("leases: %s, want %s", got, want)
	}
}

// TestRoadWarriorLeases: iked as XAUTH + Mode Config gateway with a pool
// and iked as its client, through the production wiring. The client
// logs in, gets an address from the pool, and Quick Mode uses it as the
// client's local selector and the gateway's remote one; the lease is
// released when the client goes, and kept in the state directory across
// a restart of the gateway: a road warrior gets its own address back,
// not the first free one.
func TestRoadWarriorLeases(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		state := t.TempDir()
		pool := "{range: 10.99.0.10-10.99.0.19, dns: [198.51.100.53], split-include: [198.51.100.0/24]}"
		o := stacktest.Options{Net: nw}
		gw := stacktest.Start(t, raGateway(t, pool, state), o)
		c := stacktest.Start(t, raClient(t, hostC), o)
		gw.WaitSAs(t, 2, 20*time.Second)
		a := stacktest.Start(t, raClient(t, stacktest.HostA), o)
		a.WaitSAs(t, 2, 20*time.Second)
		gw.WaitSAs(t, 4, 20*time.Second)
		check(t, a, gw, "10.99.0.10 192.0.2.3 alice true; 10.99.0.11 192.0.2.1 alice true")
		if up := a.WaitRecord(t, "IPsec SA established", 0, 10*time.Second); up[0]["virtual-ip"] != "10.99.0.11" || up[0]["dns"] != "198.51.100.53" {
			t.Errorf("client A's ipsec-up event: %v", up[0])
		}

		// The clients go: their leases are released, still remembered.
		a.Daemon.Stop()
		c.Daemon.Stop()
		stacktest.Wait(t, 10*time.Second, "leases released", func() bool {
			l := leases(t, gw)
			return len(l) == 2 && strings.HasSuffix(l[0], "false") && strings.HasSuffix(l[1], "false")
		}, gw)
		gw.Daemon.Stop()

		// A new gateway on the same state directory: A alone, first,
		// gets 10.99.0.11 again.
		gw = stacktest.Start(t, raGateway(t, pool, state), o)
		a = stacktest.Start(t, raClient(t, stacktest.HostA), o)
		a.WaitSAs(t, 2, 20*time.Second)
		check(t, a, gw, "10.99.0.10 192.0.2.3 alice false; 10.99.0.11 192.0.2.1 alice true")
	})
}

// TestRoadWarriorPoolFull: a pool of one address. The first road warrior
// gets it; the second one's ISAKMP SA is deleted after its Mode Config
// request, the gateway logs message 46 with the reason, and no IPsec SA
// is set up for it.
func TestRoadWarriorPoolFull(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		o := stacktest.Options{Net: nw}
		gw := stacktest.Start(t, raGateway(t, "{range: 10.99.0.10-10.99.0.10}", t.TempDir()), o)
		c := stacktest.Start(t, raClient(t, hostC), o)
		c.WaitSAs(t, 2, 20*time.Second)
		a := stacktest.Start(t, raClient(t, stacktest.HostA), o)
		rs := gw.WaitRecord(t, "", 46, 20*time.Second)
		if m, _ := rs[0]["msg"].(string); !strings.Contains(m, "address pool full") || !strings.Contains(m, stacktest.HostA) {
			t.Errorf("message 46 does not say the pool is full for %s: %q", stacktest.HostA, m)
		}
		time.Sleep(5 * time.Second)
		if n := len(a.Engine.SAs()); n != 0 {
			t.Errorf("client A has %d IPsec SAs without an address", n)
		}
		if n := len(gw.Engine.SAs()); n != 2 {
			t.Errorf("the gateway has %d IPsec SAs, want the first client's 2", n)
		}
		if got, want := strings.Join(leases(t, gw), "; "), "10.99.0.10 192.0.2.3 alice true"; got != want {
			t.Errorf("leases: %s, want %s", got, want)
		}
	})
}
