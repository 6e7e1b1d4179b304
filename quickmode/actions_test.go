package quickmode_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/stack/stacktest"
)

// actionPair starts B (responding only) and A (`initiate: start`), both
// with DPD every 10 s given up after 30 s, A with its connection's dpd
// and close-action as given, and waits for their first bundles.
func actionPair(t *testing.T, nw *stacktest.Net, connDPD, closeAction string) (a, b *stacktest.Node) {
	t.Helper()
	p := stacktest.Policy{DPD: "{delay: 10s, timeout: 30s}", KeyingTries: "forever"}
	pa := p
	pa.Initiate, pa.ConnDPD, pa.CloseAction = "start", connDPD, closeAction
	a, b = stacktest.Pair(t, pa, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
	waitFor(t, "first bundles", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
	return a, b
}

// spis returns the SPIs a node's engine holds.
func spis(n *stacktest.Node) map[uint32]bool {
	out := map[uint32]bool{}
	for _, r := range n.Engine.SAs() {
		out[r.Ref.SPI] = true
	}
	return out
}

// fresh reports whether the engine holds a whole new bundle (two SAs, none
// of old).
func fresh(n *stacktest.Node, old map[uint32]bool) bool {
	now := spis(n)
	if len(now) != 2 {
		return false
	}
	for s := range now {
		if old[s] {
			return false
		}
	}
	return true
}

var (
	hostA   = netip.MustParseAddr(stacktest.HostA)
	hostB   = netip.MustParseAddr(stacktest.HostB)
	packetA = engine.Selector{Local: netip.MustParsePrefix(stacktest.HostA + "/32"), Remote: netip.MustParsePrefix(stacktest.HostB + "/32"),
		Protocol: 6, RemotePort: 80}
)

// TestDPDAction: B falls silent; A's DPD declares it dead 30 s after the
// first unanswered R-U-THERE, and A's connection's dpd.action decides:
// clear removes the SAs and their kernel policies; hold removes the SAs
// but keeps the policies, so that a packet makes the engine ACQUIRE and A
// negotiates again once B answers; restart initiates at once and, with
// keying-tries forever, retries until B answers. In virtual time.
func TestDPDAction(t *testing.T) {
	dead := func(t *testing.T, nw *stacktest.Net, a, b *stacktest.Node) {
		t.Helper()
		nw.Silence(hostB, true)
		a.WaitRecord(t, "ISAKMP SA removed", 0, 2*time.Minute)
		if r := a.Records(t, "ISAKMP SA removed", 0); r[0]["reason"] != "dead peer" {
			t.Fatalf("removed: %v", r[0])
		}
	}
	t.Run("clear", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a, b := actionPair(t, nw, "", "")
			if len(a.Engine.Policies()) == 0 {
				t.Fatal("no kernel policies with the bundle")
			}
			dead(t, nw, a, b)
			waitFor(t, "SAs and policies gone", func() bool { return len(a.Engine.SAs()) == 0 && len(a.Engine.Policies()) == 0 }, a, b)
			nw.Silence(hostB, false)
			time.Sleep(5 * time.Minute)
			if a.Engine.Packet(packetA) || len(a.Ctl(t, control.CmdListSAs, "").SAs) != 0 {
				t.Errorf("clear: something negotiated again:\n%s", a.Log.String())
			}
			if n := len(a.Records(t, "peer dead: dpd action", 0)); n != 0 {
				t.Errorf("%d dpd action lines for clear", n)
			}
		})
	})
	t.Run("hold", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a, b := actionPair(t, nw, "{action: hold}", "")
			policies := a.Engine.Policies()
			old := spis(a)
			dead(t, nw, a, b)
			waitFor(t, "SAs gone", func() bool { return len(a.Engine.SAs()) == 0 }, a, b)
			if got := a.Engine.Policies(); len(got) != len(policies) {
				t.Fatalf("policies after hold: %v, before %v", got, policies)
			}
			if r := a.Records(t, "peer dead: dpd action", 0); len(r) != 1 || r[0]["action"] != "hold" || r[0]["conn"] != "link" {
				t.Errorf("dpd action lines: %v", r)
			}
			time.Sleep(time.Minute)
			if n := len(a.Ctl(t, control.CmdListSAs, "").SAs); n != 0 {
				t.Fatalf("hold negotiated without traffic: %d ISAKMP SAs", n)
			}
			nw.Silence(hostB, false)
			if !a.Engine.Packet(packetA) {
				t.Fatal("a packet matching the held policies made no ACQUIRE")
			}
			waitFor(t, "a new bundle after the ACQUIRE", func() bool { return fresh(a, old) }, a, b)
			if got := a.Engine.Policies(); len(got) != len(policies) {
				t.Errorf("policies after the new bundle: %v, before %v", got, policies)
			}
			if a.Engine.Packet(packetA) {
				t.Error("the new bundle does not cover the traffic")
			}
		})
	})
	t.Run("restart", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a, b := actionPair(t, nw, "{action: restart}", "")
			old := spis(a)
			dead(t, nw, a, b)
			if r := a.Records(t, "peer dead: dpd action", 0); len(r) != 1 || r[0]["action"] != "restart" {
				t.Errorf("dpd action lines: %v", r)
			}
			// The peer is still silent: the restart fails and is retried.
			a.WaitRecord(t, "connection failed: retrying", 0, time.Minute)
			nw.Silence(hostB, false)
			stacktest.Wait(t, 10*time.Minute, "a new bundle after the restart", func() bool { return fresh(a, old) }, a, b)
			if len(a.Engine.Policies()) == 0 {
				t.Error("the new bundle has no kernel policies")
			}
		})
	})
}

// TestCloseAction: B terminates the connection (its Deletes of the IPsec
// SA and the ISAKMP SA, as charon's terminate); A's close-action decides:
// none leaves A with nothing; hold keeps the bundle's kernel policies so
// that a packet negotiates again; restart negotiates again at once. In
// virtual time.
func TestCloseAction(t *testing.T) {
	for _, action := range []string{"none", "hold", "restart"} {
		t.Run(action, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				a, b := actionPair(t, nw, "", action)
				policies := a.Engine.Policies()
				old := spis(a)
				b.Ctl(t, control.CmdTerminate, "link")
				a.WaitRecord(t, "ISAKMP SA removed", 0, 10*time.Second)
				lines := a.Records(t, "peer closed the connection: close-action", 0)
				switch action {
				case "none":
					time.Sleep(5 * time.Minute)
					if len(a.Engine.SAs()) != 0 || len(a.Engine.Policies()) != 0 || len(lines) != 0 {
						t.Errorf("none: SAs %d, policies %v, lines %v", len(a.Engine.SAs()), a.Engine.Policies(), lines)
					}
				case "hold":
					waitFor(t, "SAs gone", func() bool { return len(a.Engine.SAs()) == 0 }, a, b)
					if len(a.Engine.Policies()) != len(policies) || len(lines) == 0 || lines[0]["action"] != "hold" {
						t.Fatalf("hold: policies %v, lines %v", a.Engine.Policies(), lines)
					}
					time.Sleep(time.Minute)
					if n := len(a.Ctl(t, control.CmdListSAs, "").SAs); n != 0 {
						t.Fatalf("hold negotiated without traffic: %d ISAKMP SAs", n)
					}
					if !a.Engine.Packet(packetA) {
						t.Fatal("a packet matching the held policies made no ACQUIRE")
					}
					waitFor(t, "a new bundle after the ACQUIRE", func() bool { return fresh(a, old) && len(b.Engine.SAs()) == 2 }, a, b)
				case "restart":
					waitFor(t, "a new bundle", func() bool { return fresh(a, old) && len(b.Engine.SAs()) == 2 }, a, b)
					if len(lines) == 0 || lines[0]["action"] != "restart" {
						t.Errorf("restart: lines %v", lines)
					}
				}
			})
		})
	}
}

// TestCloseActionNotOnRekey: the Quick Mode initiator's rekey deletes
// the bundle it replaced; with close-action restart on both sides that
// Delete is no close, so neither side negotiates anything more than the
// rekeys, and after several of them each side has one bundle.
func TestCloseActionNotOnRekey(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		p := stacktest.Policy{Phase2LifetimeMin: "1s", Lifetime: "3s", CloseAction: "restart"}
		pa := p
		pa.Initiate = "start"
		a, b := stacktest.Pair(t, pa, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
		waitFor(t, "first bundles", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
		time.Sleep(10 * time.Second)
		if n := len(b.Records(t, "", 62)); n < 2 {
			t.Fatalf("%d Deletes of rekeyed bundles (message 62) in 10 s", n)
		}
		for _, n := range []*stacktest.Node{a, b} {
			if l := n.Records(t, "peer closed the connection: close-action", 0); len(l) != 0 {
				t.Errorf("a rekey's Delete ran the close-action: %v\n%s", l, n.Log.String())
			}
		}
		waitFor(t, "one bundle each", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
	})
}
