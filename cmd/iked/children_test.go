package main

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// The IPsec SAs' life: listing, rekeying, what becomes of them when their
// ISAKMP SA is deleted, dies or is reauthenticated (wiring_test.go says
// how the tests run). ikectl's answers come from daemon.Control, the
// handler behind the control socket.

// TestWiringListSAsShowsChildren: after A initiates, `ikectl list-sas`
// on each side shows the ISAKMP SA with one bundle under it: the SPIs the
// engine holds in each direction, transport mode between the two hosts, ESP with AES-128 and HMAC-SHA2-256, the selectors, the
// lifetimes counting down in virtual time, the bytes the engine counted;
// the JSON answer holds no key.
func TestWiringListSAsShowsChildren(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := upPair(t, nw, childOpts{}, childOpts{})
		var outRef engine.SARef
		for _, r := range a.Engine.SAs() {
			if !r.Inbound {
				outRef = r.Ref
			}
		}
		if err := a.Engine.Account(outRef, 1500); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		for _, n := range []*stacktest.Node{a, b} {
			r := n.Ctl(t, control.CmdListSAs, "")
			if len(r.SAs) != 1 || len(r.SAs[0].Children) != 1 || len(r.Detached) != 0 {
				t.Fatalf("list-sas: %+v", r)
			}
			ch := r.SAs[0].Children[0]
			checkListed(t, n, r.SAs[0].Children)
			if ch.Conn != "link" || ch.Mode != "transport" || ch.State != "installed" || ch.LifeSeconds != 3600 ||
				ch.ExpiresIn == nil || *ch.ExpiresIn+ch.Age != time.Hour || ch.RekeyIn == nil || ch.Age < 10*time.Minute ||
				ch.LocalTS != n.Daemon.Settings().Listen[0].String()+"/32" || ch.Encap != "" || len(ch.SAs) != 2 {
				t.Errorf("child: %+v", ch)
			}
			wantRole, wantRekey := "initiator", 3240
			if n == b {
				wantRole, wantRekey = "responder", 3420
			}
			if ch.Role != wantRole || *ch.RekeyIn+ch.Age != time.Duration(wantRekey)*time.Second {
				t.Errorf("role %s rekey in %v, want %s %ds", ch.Role, *ch.RekeyIn, wantRole, wantRekey)
			}
			for _, s := range ch.SAs {
				if s.Protocol != "esp" || s.Encryption != "ESP_AES/128 cbc(aes)" || s.Integrity != "HMAC-SHA2-256 hmac(sha256)/128" || s.Bytes == nil {
					t.Errorf("SA: %+v", s)
				}
				if n == a && s.Direction == "out" && *s.Bytes != 1500 {
					t.Errorf("A's outbound SA counted %d bytes, want 1500", *s.Bytes)
				}
			}
			js, _ := json.Marshal(r)
			for _, rec := range n.Engine.SAs() {
				for _, k := range [][]byte{rec.SA.Encryption.Key, rec.SA.Integrity.Key} {
					if strings.Contains(string(js), hex.EncodeToString(k)) {
						t.Errorf("list-sas JSON holds a key of %s", rec.Ref)
					}
				}
			}
		}
	})
}

// TestWiringPeerDeleteKeepsChildren: B says goodbye with the ISAKMP SA's
// Delete alone (as charon does after moving the CHILD_SAs to a new
// IKE_SA). A forgets the ISAKMP SA but keeps the IPsec SAs in its engine,
// lists them as detached, and a new ISAKMP SA of the connection with B
// adopts them: listed under it next to the new bundle.
func TestWiringPeerDeleteKeepsChildren(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := childPair(t, nw, "never", childOpts{}, childOpts{isakmpOnly: true})
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 2, 30*time.Second)
		first := a.Ctl(t, control.CmdListSAs, "").SAs[0].Children[0]
		b.Ctl(t, control.CmdTerminate, "link")
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && len(a.Ctl(t, control.CmdListSAs, "").SAs) > 0; {
			time.Sleep(100 * time.Millisecond)
		}
		r := a.Ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 0 || len(r.Detached) != 1 || r.Detached[0].MessageID != first.MessageID {
			t.Fatalf("after the peer's ISAKMP Delete: %+v\n%s", r, a.Log.String())
		}
		checkListed(t, a, r.Detached)
		if n := len(a.Engine.SAs()); n != 2 {
			t.Fatalf("A's engine holds %d IPsec SAs after the peer's ISAKMP Delete, want 2", n)
		}
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 4, 30*time.Second)
		r = a.Ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 1 || len(r.Detached) != 0 || len(r.SAs[0].Children) != 2 || r.SAs[0].Children[0].MessageID != first.MessageID {
			t.Fatalf("after a new ISAKMP SA: %+v", r)
		}
		checkListed(t, a, r.SAs[0].Children)
	})
}

// TestWiringResponderRekeys: the responder's volume soft limit comes
// first (its peer sent 960 KB of 1000): the responder, after its moment
// of grace, negotiates the new bundle as Quick Mode initiator and deletes
// the old one on both sides.
func TestWiringResponderRekeys(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := upPair(t, nw, childOpts{kbytes: 1000}, childOpts{kbytes: 1000})
		oldIn, oldOut := spis(b)
		var in engine.SARef
		for _, r := range b.Engine.SAs() {
			if r.Inbound {
				in = r.Ref
				if r.Lifetime.SoftKBytes != 950 || r.Lifetime.HardKBytes != 1000 {
					t.Fatalf("responder's volume limits %+v, want soft 950 hard 1000 KB", r.Lifetime)
				}
			}
		}
		if err := b.Engine.Account(in, 960*1024); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		for _, n := range []*stacktest.Node{a, b} {
			n.WaitSAs(t, 2, time.Second)
			nin, nout := spis(n)
			for s := range nin {
				if oldIn[s] || oldOut[s] {
					t.Errorf("old SA %s still installed", s)
				}
			}
			for s := range nout {
				if oldIn[s] || oldOut[s] {
					t.Errorf("old SA %s still installed", s)
				}
			}
			ch := n.Ctl(t, control.CmdListSAs, "").SAs[0].Children
			if len(ch) != 1 {
				t.Fatalf("%d bundles listed", len(ch))
			}
			want := "initiator"
			if n == a {
				want = "responder"
			}
			if ch[0].Role != want {
				t.Errorf("the new bundle's role is %s, want %s (the old responder rekeyed)", ch[0].Role, want)
			}
		}
		if !strings.Contains(b.Log.String(), `"msg":"IPsec SA reached its soft lifetime: rekeying","conn":"link","role":"responder"`) ||
			!strings.Contains(a.Log.String(), "Requested to delete SA ESP[0x") {
			t.Errorf("B:\n%s\nA:\n%s", b.Log.String(), a.Log.String())
		}
	})
}

// TestWiringInitiatorRekeysFirst: with a 20 s lifetime the initiator's
// soft limit (18 s) comes before the responder's (19 s): exactly one
// rekey happens, by the initiator, and each side then holds one bundle.
func TestWiringInitiatorRekeysFirst(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := upPair(t, nw, childOpts{lifetime: "20s"}, childOpts{lifetime: "20s"})
		old, _ := spis(a)
		time.Sleep(19500 * time.Millisecond)
		for _, n := range []*stacktest.Node{a, b} {
			n.WaitSAs(t, 2, time.Second)
			if c := strings.Count(n.Log.String(), "IPsec SA reached its soft lifetime"); c > 1 || (n == b && c != 0) {
				t.Errorf("%d rekeys logged:\n%s", c, n.Log.String())
			}
		}
		in, _ := spis(a)
		for s := range in {
			if old[s] {
				t.Errorf("A still holds the old inbound SA %s", s)
			}
		}
	})
}

// TestWiringRekeyThroughNewPhase1: A's bundle outlived its ISAKMP SA (B
// deleted the ISAKMP SA alone); at its soft limit A negotiates a new phase
// 1, then the Quick Mode that replaces the bundle, and deletes the old one
// at once rather than at its hard lifetime.
func TestWiringRekeyThroughNewPhase1(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := childPair(t, nw, "never", childOpts{kbytes: 1000}, childOpts{kbytes: 1000, isakmpOnly: true})
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 2, 30*time.Second)
		b.Ctl(t, control.CmdTerminate, "link")
		time.Sleep(time.Second)
		if r := a.Ctl(t, control.CmdListSAs, ""); len(r.SAs) != 0 || len(r.Detached) != 1 {
			t.Fatalf("before the rekey: %+v", r)
		}
		old, _ := spis(a)
		var out engine.SARef
		for _, r := range a.Engine.SAs() {
			if !r.Inbound {
				out = r.Ref
			}
		}
		if err := a.Engine.Account(out, 910*1024); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		a.WaitSAs(t, 2, time.Second)
		in, _ := spis(a)
		for s := range in {
			if old[s] {
				t.Errorf("A still holds the old inbound SA %s", s)
			}
		}
		r := a.Ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 1 || len(r.SAs[0].Children) != 1 || len(r.Detached) != 0 {
			t.Errorf("after the rekey: %+v", r)
		}
		if !strings.Contains(a.Log.String(), "IPsec SA rekeyed: the old bundle is deleted") {
			t.Errorf("A:\n%s", a.Log.String())
		}
	})
}

// The IPsec SAs go with an ISAKMP SA that DPD declares dead or that
// INITIAL-CONTACT makes stale.

// TestWiringDeadPeerTakesChildSAs: A initiates phase 1 and Quick Mode with
// B (both engines hold the inbound and outbound ESP SA). B falls silent:
// A's DPD declares it dead and A's engine no longer holds the IPsec SAs of
// that ISAKMP SA.
func TestWiringDeadPeerTakesChildSAs(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, _ := upPair(t, nw, childOpts{}, childOpts{})
		nw.Silence(netip.MustParseAddr("192.0.2.2"), true)
		time.Sleep(45 * time.Second)
		if n := len(a.Engine.SAs()); n != 0 {
			t.Fatalf("A's engine still holds %d IPsec SAs after its peer died\n%s", n, a.Log.String())
		}
		if !strings.Contains(a.Log.String(), `"reason":"dead peer"`) {
			t.Errorf("A's log:\n%s", a.Log.String())
		}
	})
}

// TestWiringInitialContactTakesChildSAs: A negotiates phase 1 and Quick
// Mode with B, crashes (nothing it says on the way down arrives) and
// negotiates again. Its INITIAL-CONTACT makes B drop the stale ISAKMP SA
// and its IPsec SAs: B's engine holds only the new pair.
func TestWiringInitialContactTakesChildSAs(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a1, b := upPair(t, nw, childOpts{}, childOpts{})
		old := b.Engine.SAs()
		nw.Silence(netip.MustParseAddr("192.0.2.1"), true)
		a1.Daemon.Stop()
		nw.Silence(netip.MustParseAddr("192.0.2.1"), false)
		a2 := startChildNode(t, nw, stacktest.HostA, stacktest.HostB, "start", childOpts{})
		a2.WaitSAs(t, 2, 30*time.Second)
		b.WaitSAs(t, 2, 5*time.Second)
		for _, o := range old {
			for _, n := range b.Engine.SAs() {
				if o.SA.SPI == n.SA.SPI {
					t.Errorf("B kept the stale IPsec SA %s", o.SA)
				}
			}
		}
		if !strings.Contains(b.Log.String(), `"reason":"stale (INITIAL-CONTACT)"`) {
			t.Errorf("B's log:\n%s", b.Log.String())
		}
	})
}

// ISAKMP SA reauthentication (phase1/reauth.go) with the wiring iked runs:
// two daemons, memory engines, virtual time. The ISAKMP SA lives 10 min,
// its IPsec SAs an hour.

// TestWiringReauthKeepsChildren: A (the initiator) reauthenticates before
// the ISAKMP SA's 10 min are over; afterwards each side has exactly one
// ISAKMP SA, a new one, and the same IPsec SAs (same SPIs in the engine,
// listed under the new SA); the old SA went as "reauthenticated" on A and
// by A's ISAKMP-only Delete on B, and no new Quick Mode ran.
func TestWiringReauthKeepsChildren(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
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
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
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
