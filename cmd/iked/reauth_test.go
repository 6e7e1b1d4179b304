package main

import (
	"maps"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// ISAKMP SA reauthentication (phase1/reauth.go) with the wiring iked runs:
// two daemons, memory engines, virtual time. The ISAKMP SA lives 10 min,
// its IPsec SAs an hour.

// TestWiringReauthKeepsChildren: A (the initiator) reauthenticates before
// the ISAKMP SA's 10 min are over; afterwards each side has exactly one
// ISAKMP SA, a new one, and the same IPsec SAs (same SPIs in the engine,
// listed under the new SA); the old SA went as "reauthenticated" on A and
// by A's ISAKMP-only Delete on B, and no new Quick Mode ran.
func TestWiringReauthKeepsChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		o := childOpts{ikeLifetime: "10m"}
		a, b := upPair(t, nw, o, o)
		aIn, aOut := spis(a)
		bIn, bOut := spis(b)
		first := a.Ctl(t, control.CmdListSAs, "").SAs
		if len(first) != 1 {
			t.Fatalf("A lists %d ISAKMP SAs, want 1", len(first))
		}
		time.Sleep(10*time.Minute + 30*time.Second)
		for _, n := range []struct {
			name    string
			node    *stacktest.Node
			in, out map[string]bool
		}{{"A", a, aIn, aOut}, {"B", b, bIn, bOut}} {
			r := n.node.Ctl(t, control.CmdListSAs, "")
			if len(r.SAs) != 1 || !r.SAs[0].Established || r.SAs[0].ICookie == first[0].ICookie {
				t.Fatalf("%s after the reauthentication: %+v, want one new established ISAKMP SA (old %s)\n%s", n.name, r.SAs, first[0].ICookie, n.node.Log.String())
			}
			if len(r.Detached) != 0 || len(r.SAs[0].Children) != 1 {
				t.Fatalf("%s: children %+v detached %+v, want the one bundle under the new SA", n.name, r.SAs[0].Children, r.Detached)
			}
			checkListed(t, n.node, r.SAs[0].Children)
			in, out := spis(n.node)
			if !maps.Equal(in, n.in) || !maps.Equal(out, n.out) {
				t.Errorf("%s's IPsec SAs changed: in %v out %v, before in %v out %v", n.name, in, out, n.in, n.out)
			}
		}
		al, bl := a.Log.String(), b.Log.String()
		for _, want := range []string{"reauthenticating ISAKMP SA", "ISAKMP SA reauthenticated", `"reason":"reauthenticated"`} {
			if !strings.Contains(al, want) {
				t.Errorf("A's log lacks %q:\n%s", want, al)
			}
		}
		if !strings.Contains(bl, `"reason":"deleted by the peer"`) {
			t.Errorf("B's log does not show A's Delete of the old SA:\n%s", bl)
		}
		if strings.Contains(al+bl, "lifetime expired") {
			t.Errorf("an ISAKMP SA expired instead of being reauthenticated")
		}
		if n := strings.Count(al, "reauthenticating ISAKMP SA") + strings.Count(bl, "reauthenticating ISAKMP SA"); n != 1 {
			t.Errorf("%d reauthentications began, want 1", n)
		}
	})
}

// TestWiringReauthFailsThenExpires: from 8 min on B's Main Mode answers
// are lost (its DPD answers still arrive), before A's reauth timer (8.5
// to 9 min): A's new Main Mode fails, A says the reauthentication failed,
// (B's own attempt, as responder at 9.5 to 9.75 min, fails alike), and at
// 10 min the old SA expires as it would without reauthentication: the
// Deletes go out and neither engine holds the IPsec SAs.
func TestWiringReauthFailsThenExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		o := childOpts{ikeLifetime: "10m"}
		a, b := upPair(t, nw, o, o)
		est := time.Now()
		time.Sleep(8 * time.Minute)
		bAddr := netip.MustParseAddr("192.0.2.2")
		nw.SetDrop(func(s daemontest.Sent) bool {
			return s.From.Addr() == bAddr && len(s.Data) > isakmp.HeaderLen && isakmp.ExchangeType(s.Data[18]) == isakmp.ExchangeMain
		})
		time.Sleep(2*time.Minute - 5*time.Second)
		al := a.Log.String()
		for _, want := range []string{"reauthenticating ISAKMP SA", "ISAKMP SA reauthentication failed"} {
			if !strings.Contains(al, want) {
				t.Errorf("A's log lacks %q:\n%s", want, al)
			}
		}
		if r := a.Ctl(t, control.CmdListSAs, ""); len(r.SAs) != 1 || len(a.Engine.SAs()) != 2 {
			t.Fatalf("A before the lifetime: %+v, engine %d IPsec SAs, want the old SA and its bundle\n%s", r.SAs, len(a.Engine.SAs()), al)
		}
		time.Sleep(15 * time.Second)
		// Both lifetimes end at 10 min: whichever timer runs first
		// sends the Delete, the other side acts on it.
		al, bl := a.Log.String(), b.Log.String()
		if !strings.Contains(al+bl, `"reason":"lifetime expired"`) {
			t.Errorf("neither log says the lifetime expired (%v after establishment):\n%s\nB:\n%s", time.Since(est), al, bl)
		}
		if r := b.Ctl(t, control.CmdListSAs, ""); len(r.SAs) != 0 || len(r.Detached) != 0 {
			t.Errorf("B after the lifetime: %+v", r)
		}
		if r := a.Ctl(t, control.CmdListSAs, ""); len(r.SAs) != 0 || len(r.Detached) != 0 {
			t.Errorf("A after the lifetime: %+v", r)
		}
		if n := len(a.Engine.SAs()); n != 0 {
			t.Errorf("A's engine holds %d IPsec SAs after the ISAKMP SA expired", n)
		}
		if n := len(b.Engine.SAs()); n != 0 {
			t.Errorf("B's engine holds %d IPsec SAs after A's Deletes\n%s", n, b.Log.String())
		}
	})
}
