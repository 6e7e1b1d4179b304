package phase1

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
)

// watched wraps Runtime to see what the daemon's loop does with phase 1:
// how many messages each exchange consumed, and whether it established.
type watched struct {
	rt          *Runtime
	consumed    atomic.Int32
	established atomic.Bool
	failed      atomic.Bool
}

type watchedEx struct {
	w  *watched
	ex daemon.Exchange
}

func (w *watched) note(r daemon.Result) daemon.Result {
	if r.Established {
		w.established.Store(true)
	}
	if r.DeleteSA {
		w.failed.Store(true)
	}
	return r
}

func (w *watched) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	ex, r := w.rt.Start(c, p)
	w.consumed.Add(1)
	if ex == nil {
		return nil, w.note(r)
	}
	return &watchedEx{w, ex}, w.note(r)
}

func (w *watched) Initiate(c *daemon.Context, conn string) (daemon.Exchange, daemon.Result, error) {
	ex, r, err := w.rt.Initiate(c, conn)
	if ex == nil {
		return nil, r, err
	}
	return &watchedEx{w, ex}, w.note(r), err
}

func (e *watchedEx) Consume(c *daemon.Context, p *daemon.Packet) daemon.Result {
	r := e.ex.Consume(c, p)
	if r.Reject == nil {
		e.w.consumed.Add(1)
	}
	return e.w.note(r)
}
func (e *watchedEx) Resume(c *daemon.Context, v any) daemon.Result {
	return e.w.note(e.ex.Resume(c, v))
}
func (e *watchedEx) TimedOut(c *daemon.Context) daemon.Result { return e.w.note(e.ex.TimedOut(c)) }
func (e *watchedEx) State() string                            { return e.ex.State() }

// TestDaemonRetransmissionGetsCachedReply runs both roles inside real
// daemon loops (worker pool, timers, reply cache), in virtual time, over
// an in-memory network
// that loses the responder's first MM4. The initiator retransmits MM3; the
// responder's daemon answers from its cache without handing MM3 to the
// exchange again, and both sides establish.
func TestDaemonRetransmissionGetsCachedReply(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pskPair(mode)
				nw := &daemontest.Net{}
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
				wB, wA := &watched{rt: &Runtime{}}, &watched{rt: &Runtime{}}
				dB := startNode(t, nw, addrB, policyFor(t, b), nodeOpts{p1: wB}).d
				dA := startNode(t, nw, addrA, policyFor(t, a), nodeOpts{p1: wA, initiate: true}).d
				for i := 0; i < 100 && !(wA.established.Load() && wB.established.Load()); i++ {
					time.Sleep(100 * time.Millisecond)
				}
				if !wA.established.Load() || !wB.established.Load() {
					t.Fatalf("not established: A=%v B=%v", wA.established.Load(), wB.established.Load())
				}
				if !lostOnce {
					t.Fatal("nothing was lost")
				}
				if dA.Counters.Retransmits.Load() == 0 {
					t.Fatal("the initiator did not retransmit")
				}
				if dB.Counters.CachedReplies.Load() == 0 {
					t.Fatal("the responder did not answer from its cache")
				}
				// Main Mode responder consumes MM1, MM3, MM5; Aggressive AM1, AM3:
				// the retransmission was not consumed a second time.
				if got, wantN := wB.consumed.Load(), int32(3); mode == "main" && got != wantN {
					t.Fatalf("responder consumed %d messages, want %d", got, wantN)
				}
				if got := wB.consumed.Load(); mode == "aggressive" && got != 2 {
					t.Fatalf("responder consumed %d messages, want 2", got)
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

// wantReplayDrops fails the test unless n datagrams reached b as
// replays and were dropped.
func wantReplayDrops(t *testing.T, b *node, n uint64) {
	t.Helper()
	if got := b.d.Counters.Dropped(daemon.DropReplay); got != n {
		t.Errorf("replay drops %d, want %d", got, n)
	}
}

// replayPair runs f in a synctest bubble with nodes A and B, one main
// mode SA established between them.
func replayPair(t *testing.T, f func(t *testing.T, nw *daemontest.Net, a, b *node)) {
	lifePair(t, []string{"main"}, "", "", f)
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
		b.life.OnInitialContact = func(*daemon.Context, *SA) { mu.Lock(); ics++; mu.Unlock() }

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
		wantReplayDrops(t, b, 1)
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
		wantReplayDrops(t, b, 2)
	})
}

// TestReplayedDeleteAfterThousandExchanges: a protected Delete captured
// on the wire is replayed after 1,000 more protected exchanges (DPD) on
// the same ISAKMP SA, long past any window of recent message IDs: B
// still refuses it, so the peer's IPsec SA is deleted once.
func TestReplayedDeleteAfterThousandExchanges(t *testing.T) {
	replayPair(t, func(t *testing.T, nw *daemontest.Net, a, b *node) {
		sa := a.rec.established()[0]
		var mu sync.Mutex
		deletes := 0
		b.ih.OnDelete = func(*daemon.Context, []SARef) { mu.Lock(); deletes++; mu.Unlock() }
		del := sealFrom(t, a, sa, 0xde1e7e01, &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, SPISize: 4, SPIs: [][]byte{{0xc0, 0, 0, 1}}})
		injectToB(t, nw, del)
		var ik InfoKeys
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
