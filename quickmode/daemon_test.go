package quickmode_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/stack/stacktest"
)

// startPair starts B (never initiating) and A (initiating as initiate
// says) with the production wiring on nw: Quick Mode with PFS and
// AES-256, phase 2 lifetime lifetime.
func startPair(t *testing.T, nw *stacktest.Net, initiate, lifetime string) (a, b *stacktest.Node) {
	t.Helper()
	p := stacktest.Policy{LogLevel: "keys", Phase2LifetimeMin: "1s", ESP: "ciphers: [aes256], hmacs: [sha256]",
		PFS: "modp2048", PSK: "quick mode test key", Lifetime: lifetime}
	pa := p
	pa.Initiate = initiate
	return stacktest.Pair(t, pa, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
}

func waitFor(t *testing.T, what string, cond func() bool, a, b *stacktest.Node) {
	t.Helper()
	stacktest.Wait(t, 10*time.Second, what, cond, a, b)
}

// TestDaemonsInitiateTerminate: `ikectl initiate` on one daemon runs phase 1 and
// then Quick Mode with PFS through the real loops, sockets, worker pools
// and engine queues; each daemon's memory engine holds the other's
// outbound SAs as its inbound ones with the same keys; `ikectl terminate`
// sends the Deletes and the peer removes its SAs (message 62).
func TestDaemonsInitiateTerminate(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := startPair(t, nw, "never", "1h")
		a.Ctl(t, control.CmdInitiate, "link")
		waitFor(t, "both bundles installed", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
		for _, pr := range [][2]*stacktest.Node{{a, b}, {b, a}} {
			for _, o := range pr[0].Engine.SAs() {
				if o.Inbound {
					continue
				}
				in, ok := pr[1].Engine.Lookup(o.Ref)
				if !ok || !in.Inbound || !in.SA.Encryption.Key.Equal(o.SA.Encryption.Key) || !in.SA.Integrity.Key.Equal(o.SA.Integrity.Key) ||
					in.SA.Encryption.Name != "cbc(aes)" || len(in.SA.Encryption.Key) != 32 || in.Lifetime.HardSeconds != 3600 {
					t.Errorf("outbound %s has no matching inbound SA on the peer: %+v", o.Ref, in)
				}
			}
		}
		// ikectl list-sas lists each side's bundle
		// under its ISAKMP SA with the SPIs its engine holds.
		for _, n := range []*stacktest.Node{a, b} {
			sas := n.Ctl(t, control.CmdListSAs, "").SAs
			if len(sas) != 1 || len(sas[0].Children) != 1 || len(sas[0].Children[0].SAs) != 2 {
				t.Fatalf("list-sas: %+v", sas)
			}
			for _, s := range sas[0].Children[0].SAs {
				found := false
				for _, r := range n.Engine.SAs() {
					found = found || (fmt.Sprintf("0x%08x", r.Ref.SPI) == s.SPI && r.Inbound == (s.Direction == "in"))
				}
				if !found {
					t.Errorf("list-sas shows %s SA %s, not in the engine", s.Direction, s.SPI)
				}
			}
		}
		for _, n := range []*stacktest.Node{a, b} {
			l := n.Log.String()
			if !strings.Contains(l, `"msg":"IPsec SA keys"`) || !strings.Contains(l, `"msg":"IPsec SA established"`) {
				t.Errorf("no IPsec SA established / keys log:\n%s", l)
			}
			if strings.Contains(l, "quick mode test key") {
				t.Error("the PSK reached the log")
			}
		}
		a.Ctl(t, control.CmdTerminate, "link")
		waitFor(t, "SAs deleted on both sides", func() bool { return len(a.Engine.SAs()) == 0 && len(b.Engine.SAs()) == 0 }, a, b)
		if !strings.Contains(b.Log.String(), "Requested to delete SA ESP[0x") {
			t.Errorf("no message 62 on the peer:\n%s", b.Log.String())
		}
		waitFor(t, "the peer deleted the ISAKMP SA", func() bool { return len(b.Ctl(t, control.CmdListSAs, "").SAs) == 0 }, a, b)
	})
}

// TestDaemonsOnDemand: a packet that matches the trap policy of an
// on-demand connection makes the engine report ACQUIRE; the Manager starts
// phase 1 (no ISAKMP SA is up) and then Quick Mode; a second ACQUIRE once
// phase 1 is up starts a Quick Mode on the same ISAKMP SA.
func TestDaemonsOnDemand(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := startPair(t, nw, "on-demand", "1h")
		if len(a.Engine.Policies()) == 0 {
			t.Fatal("no trap policies installed for the on-demand connection")
		}
		pkt := engine.Selector{Local: netip.MustParsePrefix("192.0.2.1/32"), Remote: netip.MustParsePrefix("192.0.2.2/32"), Protocol: 6, RemotePort: 80}
		if !a.Engine.Packet(pkt) {
			t.Fatal("the memory engine reported no ACQUIRE")
		}
		waitFor(t, "both bundles installed after the ACQUIRE", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
		if sas := a.Ctl(t, control.CmdListSAs, "").SAs; len(sas) != 1 || sas[0].Role != "initiator" {
			t.Errorf("ISAKMP SAs after the ACQUIRE: %+v", sas)
		}
	})
}

// TestDaemonsRekey: with a 3 s lifetime the memory engine reports the
// soft EXPIRE at 2 s; the Quick Mode initiator negotiates a new bundle
// on the same ISAKMP SA and deletes the old one (the peer logs 62), before
// the hard lifetime; afterwards each side has exactly the new pair.
func TestDaemonsRekey(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := startPair(t, nw, "never", "3s")
		a.Ctl(t, control.CmdInitiate, "link")
		waitFor(t, "first bundles", func() bool { return len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2 }, a, b)
		first := map[uint32]bool{}
		for _, r := range a.Engine.SAs() {
			first[r.Ref.SPI] = true
		}
		rekeyed := func() bool {
			sa, sb := a.Engine.SAs(), b.Engine.SAs()
			if len(sa) != 2 || len(sb) != 2 {
				return false
			}
			for _, r := range sa {
				if first[r.Ref.SPI] {
					return false
				}
			}
			return true
		}
		waitFor(t, "rekeyed bundles", rekeyed, a, b)
		for _, o := range a.Engine.SAs() {
			in, ok := b.Engine.Lookup(o.Ref)
			if o.Inbound {
				in, ok = b.Engine.Lookup(o.Ref)
			}
			if !ok || !in.SA.Encryption.Key.Equal(o.SA.Encryption.Key) {
				t.Errorf("%s has no matching SA on the peer", o.Ref)
			}
		}
		if !strings.Contains(b.Log.String(), "Requested to delete SA ESP[0x") || !strings.Contains(a.Log.String(), "IPsec SA rekeyed") {
			t.Errorf("no rekey/delete in the logs:\n%s", b.Log.String())
		}
		if sas := a.Ctl(t, control.CmdListSAs, "").SAs; len(sas) != 1 {
			t.Errorf("rekeying made %d ISAKMP SAs", len(sas))
		}
	})
}
