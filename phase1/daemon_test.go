package phase1_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// countFirsts makes the node's phase 1 count the peer's first messages
// (MM1, AM1: their Vendor IDs) and the messages with NAT-D payloads it
// consumes (MM3, AM3), through its hooks.
func countFirsts(firsts, natds *atomic.Int32) func(*stack.Stack) {
	return func(s *stack.Stack) {
		h := &s.Phase1.Hooks
		vids, natd := h.PeerVendorIDs, h.PeerNATD
		h.PeerVendorIDs = func(sa *phase1.SA, v [][]byte) { firsts.Add(1); vids(sa, v) }
		h.PeerNATD = func(sa *phase1.SA, n []*isakmp.NATD) error { natds.Add(1); return natd(sa, n) }
	}
}

// TestDaemonRetransmissionGetsCachedReply runs both roles inside real
// daemon loops (worker pool, timers, reply cache), in virtual time, over
// an in-memory network that loses the responder's first MM4 (AM2). The
// initiator retransmits MM3 (AM1); the responder's daemon answers from
// its cache without handing the message to the exchange again (its
// phase 1 reads one first message and one with NAT-D payloads: MM1 and
// MM3, AM1 and AM3), and both sides establish.
func TestDaemonRetransmissionGetsCachedReply(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			pa, pb := lifePolicies(mode, "", "", false)
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				lostOnce := false
				// Lose the responder's second message of Main Mode (MM4), or
				// its only one of Aggressive Mode (AM2).
				want := 2
				if mode == "aggressive" {
					want = 1
				}
				seen := 0
				nw.SetDrop(func(d daemontest.Sent) bool {
					if d.To.Addr() != addrA.Addr() || lostOnce {
						return false
					}
					seen++
					if seen == want {
						lostOnce = true
						return true
					}
					return false
				})
				var firsts, natds atomic.Int32
				a, b := upPair(t, nw, pa, pb, nodeOpts{natt: true}, nodeOpts{natt: true, edit: countFirsts(&firsts, &natds)})
				if !lostOnce {
					t.Fatal("nothing was lost")
				}
				if a.Daemon.Counters.Retransmits.Load() == 0 {
					t.Fatal("the initiator did not retransmit")
				}
				if b.Daemon.Counters.CachedReplies.Load() == 0 {
					t.Fatal("the responder did not answer from its cache")
				}
				if f, n := firsts.Load(), natds.Load(); f != 1 || n != 1 {
					t.Fatalf("the responder's phase 1 read %d first messages and %d with NAT-D, want 1 and 1", f, n)
				}
			})
		})
	}
}

// Replayed protected informationals inside real daemon loops: the
// daemon remembers the message IDs of the informationals it accepted on
// each ISAKMP SA for its life (daemon/replay.go), so a captured INITIAL-CONTACT
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
	out, err := phase1.SealInformational(k, mid, ps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// injectToB puts data on the wire from A to B, as an attacker who
// captured it would.
func injectToB(t *testing.T, nw *stacktest.Net, data []byte) {
	t.Helper()
	if err := nw.Inject(addrA, addrB, data); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

// wantReplayDrops fails the test unless n datagrams reached b as
// replays and were dropped.
func wantReplayDrops(t *testing.T, b *node, n uint64) {
	t.Helper()
	if got := b.Daemon.Counters.Dropped(daemon.DropReplay); got != n {
		t.Errorf("replay drops %d, want %d", got, n)
	}
}

// replayPair runs f in a synctest bubble with nodes A and B, one main
// mode SA established between them.
func replayPair(t *testing.T, f func(t *testing.T, nw *stacktest.Net, a, b *node)) {
	lifePair(t, []string{"main"}, "", "", f)
}

// TestReplayedInitialContactLeavesNewerSA: A and B establish SA1; A
// sends INITIAL-CONTACT in an informational on SA1 (nothing else to
// clear), then negotiates SA2 (no INITIAL-CONTACT: it has SA1). The
// informational replayed on SA1 must not clear SA2 (without the message
// ID history, ClearStale removed it as stale).
func TestReplayedInitialContactLeavesNewerSA(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *stacktest.Net, a, b *node) {
		sa1 := a.rec.established()[0]
		var ics int
		var mu sync.Mutex
		b.Life.OnInitialContact = func(*daemon.Context, *phase1.SA) { mu.Lock(); ics++; mu.Unlock() }

		var ik phase1.InfoKeys // only its cookies go into the notify
		ik.ICookie, ik.RCookie = sa1.I, sa1.R
		ic := sealFrom(t, a, sa1, 0x1c1c1c1c, ik.InitialContact())
		injectToB(t, nw, ic)
		mu.Lock()
		first := ics
		mu.Unlock()
		if first != 1 {
			t.Fatalf("B acted on the first INITIAL-CONTACT %d times\n%s", first, b.Log.String())
		}

		a.Ctl(t, control.CmdInitiate, "link")
		waitEstablished(t, a, b, 2)
		sa2 := b.rec.established()[1]

		injectToB(t, nw, ic)
		if _, _, gone := b.rec.reason(sa2); gone {
			t.Fatalf("the replayed INITIAL-CONTACT removed the newer SA\n%s", b.Log.String())
		}
		if _, _, gone := b.rec.reason(b.rec.established()[0]); gone {
			t.Fatal("B removed SA1")
		}
		mu.Lock()
		defer mu.Unlock()
		if ics != 1 {
			t.Errorf("B acted on INITIAL-CONTACT %d times, want 1", ics)
		}
		wantReplayDrops(t, b, 1)
	})
}

// TestReplayedDeleteActsOnce: a protected Delete of an ESP SPI is handed
// to OnDelete once; the same datagram again, and another message with
// the same message ID, are dropped as replays. A fresh message ID is
// acted on.
func TestReplayedDeleteActsOnce(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *stacktest.Net, a, b *node) {
		sa := a.rec.established()[0]
		var mu sync.Mutex
		var deletes [][]phase1.SARef
		b.Info.OnDelete = func(_ *daemon.Context, refs []phase1.SARef) { mu.Lock(); deletes = append(deletes, refs); mu.Unlock() }
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
			t.Fatalf("OnDelete calls %v, want SPI ...01 then ...03\n%s", deletes, b.Log.String())
		}
		wantReplayDrops(t, b, 2)
	})
}

// TestReplayedDeleteAfterThousandExchanges: a protected Delete captured
// on the wire is replayed after 1,000 more protected exchanges (DPD) on
// the same ISAKMP SA, long past any window of recent message IDs: B
// still refuses it, so the peer's IPsec SA is deleted once.
func TestReplayedDeleteAfterThousandExchanges(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *stacktest.Net, a, b *node) {
		sa := a.rec.established()[0]
		var mu sync.Mutex
		deletes := 0
		b.Info.OnDelete = func(*daemon.Context, []phase1.SARef) { mu.Lock(); deletes++; mu.Unlock() }
		del := sealFrom(t, a, sa, 0xde1e7e01, &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, SPISize: 4, SPIs: [][]byte{{0xc0, 0, 0, 1}}})
		injectToB(t, nw, del)
		var ik phase1.InfoKeys
		ik.ICookie, ik.RCookie = sa.I, sa.R
		for i := range uint32(1000) {
			if err := nw.Inject(addrA, addrB, sealFrom(t, a, sa, 0x10000+i, ik.DPDNotify(false, i+1))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		injectToB(t, nw, del)
		mu.Lock()
		defer mu.Unlock()
		if deletes != 1 {
			t.Errorf("B acted on the Delete %d times, want 1", deletes)
		}
		wantReplayDrops(t, b, 1)
		if acks := nw.Count(func(s daemontest.Sent) bool { return s.From == addrB }); acks < 1000 {
			t.Errorf("B answered %d datagrams, want the 1,000 R-U-THEREs", acks)
		}
	})
}
