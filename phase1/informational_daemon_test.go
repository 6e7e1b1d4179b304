package phase1

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
)

// infoPeer is one end of an established SA as the daemon holds it.
type infoPeer struct {
	h    *InfoHandler
	life *Life
	sa   *daemon.SA
	s    *SA
}

func newInfoPeer(s *SA) *infoPeer {
	l := NewLife(policyDPD)
	return &infoPeer{h: NewInfoHandler(l), life: l, sa: attached(s), s: s}
}

func (p *infoPeer) ctx(now time.Time) *daemon.Context {
	return &daemon.Context{Now: now, Rand: rand.Reader, SA: p.sa}
}

// deliver hands a datagram from one end to the other's handler.
func deliver(t *testing.T, to *infoPeer, now time.Time, data []byte) daemon.Result {
	t.Helper()
	ex, r := to.h.Start(to.ctx(now), &daemon.Packet{Data: data, Local: to.s.Local, Remote: to.s.Remote})
	if ex != nil {
		t.Fatal("an informational left a running exchange")
	}
	if r.Reject != nil {
		t.Fatalf("rejected: %v", r.Reject)
	}
	return r
}

// TestInfoHandler runs the daemon-facing handler on a real negotiated SA
// pair (Main Mode through a NAT): nothing sent when established,
// INITIAL-CONTACT received in an informational,
// a DPD round trip, a dead peer after delay+timeout, and the goodbye
// Delete.
func TestInfoHandler(t *testing.T) {
	si, sr := negotiateThroughNAT(t, "main")
	t0 := time.Unix(1_800_000_000, 0)
	var contacts int
	i, r := newInfoPeer(si), newInfoPeer(sr)
	r.life.OnInitialContact = func(c *daemon.Context, s *SA) {
		if s != sr {
			t.Error("INITIAL-CONTACT reported for another SA")
		}
		contacts++
	}

	for _, p := range []*infoPeer{i, r} {
		if res := p.life.Established(p.ctx(t0)); res.Send != nil || len(res.Log) != 0 {
			t.Fatalf("an informational or a message when established: %+v", res)
		}
	}
	// INITIAL-CONTACT in an informational after phase 1 (iked sends it
	// inside MM5/AM3, other peers may send it so) is acted on.
	k, _ := si.InfoKeys()
	ic, err := sealInfo(i.ctx(t0), k, k.InitialContact())
	if err != nil {
		t.Fatal(err)
	}
	got := deliver(t, r, t0, ic)
	if contacts != 1 || got.DeleteSA || len(got.Log) != 1 || got.Log[0].Num != 48 {
		t.Errorf("INITIAL-CONTACT received: %+v, contacts %d", got, contacts)
	}

	// DPD: nothing before the delay, then R-U-THERE, answered.
	if !i.life.DPDNext(i.sa).Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("DPD next %v", i.life.DPDNext(i.sa))
	}
	if res := i.life.DPDTick(i.ctx(t0.Add(29 * time.Second))); res.Send != nil {
		t.Error("probe before the delay")
	}
	probe := i.life.DPDTick(i.ctx(t0.Add(30 * time.Second)))
	if probe.Send == nil {
		t.Fatal("no R-U-THERE after 30 s")
	}
	ack := deliver(t, r, t0.Add(30*time.Second), probe.Send)
	if ack.Send == nil {
		t.Fatal("R-U-THERE not answered")
	}
	deliver(t, i, t0.Add(31*time.Second), ack.Send)
	if st := i.life.dpd[i.sa].State(); st != DPDIdle {
		t.Errorf("after the ACK: %v", st)
	}
	// The responder stops answering: dead 30 + 150 s after the ACK.
	var dead time.Time
	for now := t0.Add(31 * time.Second); now.Before(t0.Add(time.Hour)); now = i.life.DPDNext(i.sa) {
		if res := i.life.DPDTick(i.ctx(now)); res.DeleteSA {
			dead = now
			break
		}
	}
	if !dead.Equal(t0.Add(211 * time.Second)) {
		t.Errorf("declared dead at %v, want t0+3m31s", dead.Sub(t0))
	}
	if si.State != StateDeleted || !i.life.DPDNext(i.sa).IsZero() {
		t.Errorf("dead peer's SA: %v", si.State)
	}

	// The responder says goodbye. The initiator's SA is wiped by now, so
	// the Delete goes to a handler over a copy of the responder's SA (the
	// same cookies and keys).
	bye := Deleter{Life: r.life}.Delete(r.ctx(t0.Add(time.Hour)))
	if bye.Send == nil || len(bye.Log) != 0 {
		t.Fatalf("no Delete sent, or sent as message 52: %+v", bye)
	}
	rc := *sr
	rcPeer := newInfoPeer(&rc)
	got = deliver(t, rcPeer, t0.Add(time.Hour), bye.Send)
	if !got.DeleteSA || len(got.Log) != 1 || got.Log[0].Num != 62 {
		t.Errorf("Delete received: %+v", got)
	}
}
