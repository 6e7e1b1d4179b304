package daemon

import (
	"net/netip"
	"testing"
	"testing/synctest"

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
		for i := range infos {
			b := message(cookie(uint64(i+1)), cookie(7), isakmp.ExchangeInformational, uint32(i+1), nil)
			if err := h.peer.WriteDatagram(Datagram{Data: b, Remote: netip.AddrPortFrom(ourAddr, 500)}); err != nil {
				t.Fatal(err)
			}
			if i%500 == 0 {
				synctest.Wait()
			}
		}
		synctest.Wait()
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
