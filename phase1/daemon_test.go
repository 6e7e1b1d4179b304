package phase1

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
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
