package phase1

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
)

// Replayed protected informationals inside real daemon loops: the
// daemon remembers the message IDs of the informationals it accepted on
// each ISAKMP SA (daemon.MessageIDHistory), so a captured INITIAL-CONTACT
// or Delete sent again on the same SA is dropped instead of acted on.

// sealFrom seals ps as A's protected informational on the SA with
// cookies c, with message ID mid, using A's phase 1 keys.
func sealFrom(t *testing.T, a *node, c daemon.Cookies, mid uint32, ps ...isakmp.Payload) []byte {
	t.Helper()
	a.rec.mu.Lock()
	s := a.rec.states[c]
	a.rec.mu.Unlock()
	if s == nil {
		t.Fatalf("A has no phase 1 state for %v", c)
	}
	k, ok := s.InfoKeys()
	if !ok {
		t.Fatal("A's SA is not keyed")
	}
	out, err := SealInformational(k, mid, ps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// injectToB puts data on the wire from A to B, as an attacker who
// captured it would.
func injectToB(t *testing.T, nw *daemontest.Net, data []byte) {
	t.Helper()
	if err := nw.Inject(addrA, addrB, data); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

// replayPair runs f in a synctest bubble with nodes A and B, one main
// mode SA established between them.
func replayPair(t *testing.T, f func(t *testing.T, nw *daemontest.Net, a, b *node)) {
	pa, pb := lifePolicies(t, "main", "", "", false)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		a, b := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
		f(t, nw, a, b)
	})
}

// TestReplayedInitialContactLeavesNewerSA: A and B establish SA1; A
// sends INITIAL-CONTACT in an informational on SA1 (nothing else to
// clear), then negotiates SA2 (no INITIAL-CONTACT: it has SA1). The
// informational replayed on SA1 must not clear SA2 (without the message
// ID history, ClearStale removed it as stale).
func TestReplayedInitialContactLeavesNewerSA(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *daemontest.Net, a, b *node) {
		sa1 := a.rec.established()[0]
		var ics int
		var mu sync.Mutex
		b.ih.OnInitialContact = func(*daemon.Context, *SA) { mu.Lock(); ics++; mu.Unlock() }

		var ik InfoKeys // only its cookies go into the notify
		ik.ICookie, ik.RCookie = sa1.I, sa1.R
		ic := sealFrom(t, a, sa1, 0x1c1c1c1c, ik.InitialContact())
		injectToB(t, nw, ic)
		mu.Lock()
		first := ics
		mu.Unlock()
		if first != 1 {
			t.Fatalf("B acted on the first INITIAL-CONTACT %d times\n%s", first, b.log.String())
		}

		if r := a.d.Control(control.Request{Command: control.CmdInitiate, Name: "c"}); r.Error != "" {
			t.Fatal(r.Error)
		}
		waitEstablished(t, a, b, 2)
		sa2 := b.rec.established()[1]

		injectToB(t, nw, ic)
		if _, _, gone := b.rec.reason(sa2); gone {
			t.Fatalf("the replayed INITIAL-CONTACT removed the newer SA\n%s", b.log.String())
		}
		if _, _, gone := b.rec.reason(b.rec.established()[0]); gone {
			t.Fatal("B removed SA1")
		}
		mu.Lock()
		defer mu.Unlock()
		if ics != 1 {
			t.Errorf("B acted on INITIAL-CONTACT %d times, want 1", ics)
		}
		if n := b.d.Counters.Dropped(daemon.DropReplay); n != 1 {
			t.Errorf("replay drops %d, want 1", n)
		}
	})
}

// TestReplayedDeleteActsOnce: a protected Delete of an ESP SPI is handed
// to OnDelete once; the same datagram again, and another message with
// the same message ID, are dropped as replays. A fresh message ID is
// acted on.
func TestReplayedDeleteActsOnce(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *daemontest.Net, a, b *node) {
		sa := a.rec.established()[0]
		var mu sync.Mutex
		var deletes [][]SARef
		b.ih.OnDelete = func(_ *daemon.Context, refs []SARef) { mu.Lock(); deletes = append(deletes, refs); mu.Unlock() }
		del := func(spi byte) *isakmp.Delete {
			return &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, SPISize: 4, SPIs: [][]byte{{0xc0, 0, 0, spi}}}
		}
		d1 := sealFrom(t, a, sa, 0xde1e7e01, del(1))
		injectToB(t, nw, d1)
		injectToB(t, nw, d1)
		injectToB(t, nw, sealFrom(t, a, sa, 0xde1e7e01, del(2)))
		injectToB(t, nw, sealFrom(t, a, sa, 0xde1e7e02, del(3)))
		mu.Lock()
		defer mu.Unlock()
		if len(deletes) != 2 || deletes[0][0].SPI[3] != 1 || deletes[1][0].SPI[3] != 3 {
			t.Fatalf("OnDelete calls %v, want SPI ...01 then ...03\n%s", deletes, b.log.String())
		}
		if n := b.d.Counters.Dropped(daemon.DropReplay); n != 2 {
			t.Errorf("replay drops %d, want 2", n)
		}
	})
}
