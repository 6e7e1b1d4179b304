package daemon

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

// TestOverflowKeepsInformational: informational datagrams of existing
// ISAKMP SAs (a non-zero responder cookie: Deletes, DPD) that arrive
// while the loop is busy and its queue full are kept and worked through
// (overflow.go), not dropped as loop-full; first messages are still
// dropped then. With the queue alone, the datagrams past loopQueue were
// lost.
func TestOverflowKeepsInformational(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testSettings(), nil)
		release := make(chan struct{})
		if !h.d.post(func() { <-release }) {
			t.Fatal("loop stopped")
		}
		const infos, firsts = loopQueue + 2000, 100
		sendInformational(t, h, infos)
		for i := range firsts {
			b := message(cookie(uint64(100000+i)), [8]byte{}, isakmp.ExchangeMain, 0, nil)
			if err := h.peer.WriteDatagram(Datagram{Data: b, Remote: netip.AddrPortFrom(ourAddr, 500)}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		close(release)
		synctest.Wait()
		// Each informational finds no SA: all of them reached the loop.
		if n := h.d.Counters.Dropped(DropNoSA); n != infos {
			t.Errorf("%d informational datagrams reached the loop, want %d (loop-full: %d)", n, infos, h.d.Counters.Dropped(DropLoopFull))
		}
		if n := h.d.Counters.Dropped(DropLoopFull); n != firsts {
			t.Errorf("loop-full %d, want the %d first messages", n, firsts)
		}
	})
}

// sendInformational sends n informational datagrams of n unknown ISAKMP
// SAs from the peer, letting the bubble settle now and then.
func sendInformational(t *testing.T, h *harness, n int) {
	t.Helper()
	for i := range n {
		b := message(cookie(uint64(i+1)), cookie(7), isakmp.ExchangeInformational, uint32(i+1), nil)
		if err := h.peer.WriteDatagram(Datagram{Data: b, Remote: netip.AddrPortFrom(ourAddr, 500)}); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			synctest.Wait()
		}
	}
	synctest.Wait()
}

// busyEngine reports its queue full while busy is set.
type busyEngine struct {
	Engine
	busy atomic.Bool
}

func (e *busyEngine) Stats() engine.QueueStats {
	s := e.Engine.Stats()
	if e.busy.Load() {
		s.Len = s.Size
	}
	return s
}

// TestOverflowWaitsForEngine: while the engine's queue is more than half
// full, the loop leaves the overflow's datagrams (a burst of Deletes,
// each an engine request or two) waiting, and works through them once
// the engine has caught up, so that the engine need not drop requests
// (message 70). Those that were in the loop's own queue wait too.
func TestOverflowWaitsForEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &busyEngine{}
		h := newHarnessWith(t, testSettings(), nil, func(d *Daemon) {
			inner := d.opt.NewEngine
			d.opt.NewEngine = func(name string) (Engine, error) {
				e, err := inner(name)
				be.Engine = e
				return be, err
			}
		})
		release := make(chan struct{})
		if !h.d.post(func() { <-release }) {
			t.Fatal("loop stopped")
		}
		const infos = loopQueue + 500
		sendInformational(t, h, infos)
		be.busy.Store(true)
		close(release)
		synctest.Wait()
		time.Sleep(20 * overflowPause)
		synctest.Wait()
		if reached := h.d.Counters.Dropped(DropNoSA); reached != 0 {
			t.Fatalf("%d of %d reached the exchanges while the engine was busy, want none", reached, infos)
		}
		if h.d.Counters.EngineWaits.Load() == 0 {
			t.Error("no overflow pause counted")
		}
		be.busy.Store(false)
		time.Sleep(overflowPause)
		synctest.Wait()
		if n := h.d.Counters.Dropped(DropNoSA); n != infos {
			t.Errorf("%d informational datagrams reached the loop once the engine caught up, want %d (loop-full %d)",
				n, infos, h.d.Counters.Dropped(DropLoopFull))
		}
	})
}
