package quickmode_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// TestRekeyCommand: `ikectl rekey` replaces a connection's bundle at once,
// long before its soft lifetime, from either host (B was the responder of
// phase 1 and of the first Quick Mode) and by the ISAKMP SA's cookie as
// well as by the connection's name: each time both engines end with one
// bundle, whose two SPIs (each SA is in both engines) are new, and the old bundle is deleted on both
// (the rekeying host's Delete). A rekey whose Quick Mode fails leaves the
// old bundle installed and not "rekeying", so that the command can try
// again; a name with no established ISAKMP SA is an error.
func TestRekeyCommand(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		var dropQM atomic.Bool
		nw.SetDrop(func(s daemontest.Sent) bool {
			h, err := isakmp.ParseHeader(s.Data)
			return err == nil && h.Exchange == isakmp.ExchangeQuickMode && dropQM.Load()
		})
		p := stacktest.Policy{Lifetime: "1h", Retransmit: "{timeout: 200ms, tries: 3}"}
		a, b := stacktest.Pair(t, p, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 2, 10*time.Second)
		b.WaitSAs(t, 2, 10*time.Second)

		spis := func() map[uint32]bool {
			out := map[uint32]bool{}
			for _, n := range []*stacktest.Node{a, b} {
				for _, r := range n.Engine.SAs() {
					out[r.Ref.SPI] = true
				}
			}
			return out
		}
		const rekeyed = "IPsec SA rekeyed: the old bundle is deleted"
		rekey := func(by *stacktest.Node, name string) {
			t.Helper()
			before := spis()
			done := len(by.Records(t, rekeyed, 0))
			r := by.Ctl(t, control.CmdRekey, name)
			if len(r.Messages) != 1 || r.Messages[0] != "1 IPsec SA bundle(s) of 1 ISAKMP SA(s) rekeying" {
				t.Fatalf("rekey %s: %q", name, r.Messages)
			}
			stacktest.Wait(t, 10*time.Second, "the old bundle deleted on both hosts", func() bool {
				return len(by.Records(t, rekeyed, 0)) == done+1 && len(a.Engine.SAs()) == 2 && len(b.Engine.SAs()) == 2
			}, a, b)
			after := spis()
			if len(after) != 2 {
				t.Fatalf("SPIs after the rekey: %v", after)
			}
			for spi := range after {
				if before[spi] {
					t.Fatalf("SPI 0x%08x survived the rekey (before %v, after %v)", spi, before, after)
				}
			}
			for _, n := range []*stacktest.Node{a, b} {
				sas := n.Ctl(t, control.CmdListSAs, "").SAs
				if len(sas) != 1 || len(sas[0].Children) != 1 || sas[0].Children[0].State != "installed" {
					t.Fatalf("list-sas after the rekey: %+v", sas)
				}
			}
		}
		rekey(a, "link")
		if len(a.Records(t, "IPsec SA rekeying on request (ikectl rekey)", 0)) != 1 {
			t.Fatalf("no log line of the rekey's start\n%s", a.Log.String())
		}
		rekey(b, "link")
		sas := a.Ctl(t, control.CmdListSAs, "").SAs
		rekey(a, sas[0].ICookie)

		// The peer hears no Quick Mode: the rekey times out, the bundle
		// stays and may be rekeyed again once the peer answers.
		dropQM.Store(true)
		a.Ctl(t, control.CmdRekey, "link")
		stacktest.Wait(t, 30*time.Second, "the failed rekey's bundle installed again", func() bool {
			sas := a.Ctl(t, control.CmdListSAs, "").SAs
			return len(sas) == 1 && len(sas[0].Children) == 1 && sas[0].Children[0].State == "installed"
		}, a, b)
		if len(a.Engine.SAs()) != 2 {
			t.Fatalf("the failed rekey left %d SAs", len(a.Engine.SAs()))
		}
		dropQM.Store(false)
		rekey(a, "link")

		for _, name := range []string{"nosuch", "0011223344556677"} {
			r := a.Daemon.Control(control.Request{Command: control.CmdRekey, Name: name})
			if want := `no established ISAKMP SA of connection or SA "` + name + `"`; r.Error != want {
				t.Errorf("rekey %s: error %q, want %q", name, r.Error, want)
			}
		}
		if r := a.Daemon.Control(control.Request{Command: control.CmdRekey}); !strings.Contains(r.Error, "name") {
			t.Errorf("rekey without a name: error %q", r.Error)
		}
	})
}

// TestReauthCommand: `ikectl reauth` replaces the ISAKMP SA by a new
// phase 1 at once, from either host (B began neither the ISAKMP SA nor the
// bundle) and by the cookie: each time both hosts end with one ISAKMP SA,
// a new one, holding the same bundle (its SPIs unchanged: it moved, it was
// not negotiated again), and the old SA is gone. A name with no
// established ISAKMP SA is an error.
func TestReauthCommand(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		p := stacktest.Policy{Lifetime: "1h"}
		a, b := stacktest.Pair(t, p, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 2, 10*time.Second)
		b.WaitSAs(t, 2, 10*time.Second)

		// one returns n's only ISAKMP SA and its bundle's inbound SPI, once
		// it has exactly one.
		one := func(n *stacktest.Node) (control.SA, string, bool) {
			sas := n.Ctl(t, control.CmdListSAs, "").SAs
			if len(sas) != 1 || !sas[0].Established || len(sas[0].Children) != 1 {
				return control.SA{}, "", false
			}
			for _, s := range sas[0].Children[0].SAs {
				if s.Direction == "in" {
					return sas[0], s.SPI, true
				}
			}
			return control.SA{}, "", false
		}
		reauth := func(by *stacktest.Node, name string) {
			t.Helper()
			oldA, spiA, okA := one(a)
			_, spiB, okB := one(b)
			if !okA || !okB {
				t.Fatalf("before the reauthentication: not one ISAKMP SA with one bundle on each host")
			}
			r := by.Ctl(t, control.CmdReauth, name)
			if len(r.Messages) != 1 || r.Messages[0] != "1 ISAKMP SA(s) reauthenticating" {
				t.Fatalf("reauth %s: %q", name, r.Messages)
			}
			stacktest.Wait(t, 20*time.Second, "one new ISAKMP SA holding the old bundle on both hosts", func() bool {
				newA, inA, okA := one(a)
				newB, inB, okB := one(b)
				return okA && okB && newA.ICookie != oldA.ICookie && newA.ICookie == newB.ICookie &&
					inA == spiA && inB == spiB
			}, a, b)
			if len(a.Engine.SAs()) != 2 || len(b.Engine.SAs()) != 2 {
				t.Fatalf("IPsec SAs after the reauthentication: %d and %d", len(a.Engine.SAs()), len(b.Engine.SAs()))
			}
		}
		reauth(b, "link")
		if len(b.Records(t, "reauthenticating ISAKMP SA on request (ikectl reauth)", 0)) != 1 {
			t.Fatalf("no log line of the reauthentication's start\n%s", b.Log.String())
		}
		sa, _, _ := one(a)
		reauth(a, sa.ICookie)

		for _, name := range []string{"nosuch", "0011223344556677"} {
			r := a.Daemon.Control(control.Request{Command: control.CmdReauth, Name: name})
			if want := `no established ISAKMP SA of connection or SA "` + name + `"`; r.Error != want {
				t.Errorf("reauth %s: error %q, want %q", name, r.Error, want)
			}
		}
	})
}

// TestReauthRoadWarrior: a gateway's connection that answers any peer has
// no address to reauthenticate to: `ikectl reauth` there says so (its
// peer reauthenticates), and the client's reauthentication works.
func TestReauthRoadWarrior(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		g := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Tunnel: true, RoadWarrior: true}, stacktest.Options{Net: nw})
		c := stacktest.Start(t, stacktest.Policy{Local: "192.0.2.11", Remote: stacktest.HostB, Tunnel: true}, stacktest.Options{Net: nw})
		c.Ctl(t, control.CmdInitiate, "link")
		c.WaitSAs(t, 2, 10*time.Second)
		g.WaitSAs(t, 2, 10*time.Second)
		r := g.Daemon.Control(control.Request{Command: control.CmdReauth, Name: "link"})
		if !strings.HasPrefix(r.Error, "no ISAKMP SA reauthenticated: ") || !strings.HasSuffix(r.Error, "its connection has no peer address: its peer reauthenticates it") {
			t.Errorf("gateway's reauth: %+v", r)
		}
		r = c.Ctl(t, control.CmdReauth, "link")
		if len(r.Messages) != 1 || r.Messages[0] != "1 ISAKMP SA(s) reauthenticating" {
			t.Fatalf("client's reauth: %+v", r)
		}
		c.WaitRecord(t, "ISAKMP SA reauthenticated: the old SA's IPsec SAs move to the new one and the old SA is deleted", 0, 20*time.Second)
	})
}
