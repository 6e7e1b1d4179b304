package daemon

import (
	"sync"
	"time"

	"github.com/iked/iked/isakmp"
)

// overflow keeps the informational datagrams of existing ISAKMP SAs
// (Deletes, DPD, notifies: a non-zero responder cookie) that arrive while
// the loop's queue is full, so that a burst of them is worked through
// rather than dropped: when a hundred thousand peers say goodbye at once,
// each Delete lost leaves an SA in the tables until its lifetime ends. It
// is bounded (overflowMax datagrams, overflowBytes bytes); what is over
// is dropped and counted as loop-full, as other datagrams are. First
// messages are never kept here: dropping them is the flood guard.
type overflow struct {
	mu    sync.Mutex
	pkts  []*Packet
	bytes int
	ready chan struct{} // one token while pkts holds some
}

const (
	overflowMax   = 1 << 17
	overflowBytes = 32 << 20
	// overflowBatch is how many the loop works through before it looks at
	// its other events again.
	overflowBatch = 256
)

func newOverflow() *overflow { return &overflow{ready: make(chan struct{}, 1)} }

// keep holds p for the loop; false when p is not informational or the
// bounds are reached.
func (o *overflow) keep(p *Packet) bool {
	if !informationalOfSA(p) {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pkts) >= overflowMax || o.bytes+len(p.Data) > overflowBytes {
		return false
	}
	o.pkts = append(o.pkts, p)
	o.bytes += len(p.Data)
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// informationalOfSA reports whether p is an informational datagram of an
// existing ISAKMP SA (a non-zero responder cookie).
func informationalOfSA(p *Packet) bool {
	return p.Header.Exchange == isakmp.ExchangeInformational && p.Header.ResponderCookie != [8]byte{}
}

// wake puts the token back (the loop paused the overflow, engineBusy).
func (o *overflow) wake() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pkts) > 0 {
		select {
		case o.ready <- struct{}{}:
		default:
		}
	}
}

// overflowPause is how long the loop leaves the overflow waiting while
// the engine's queue is more than half full (engineBusy).
const overflowPause = 2 * time.Millisecond

// engineBusy reports whether the engine's queue is more than half full.
// The loop then leaves informational datagrams waiting in the overflow,
// those from its own queue too (a burst of Deletes: each asks the engine
// to delete a bundle's SAs and policies),
// so that the engine works at its own pace rather than dropping requests
// (message 70): a delete the engine drops leaves the kernel's SA and
// policies in place while the daemon forgot them, where a Delete datagram
// left in the overflow (or dropped when it is full) leaves the daemon's
// SA and the kernel's as they were, both to end by their lifetimes.
func (d *Daemon) engineBusy() bool {
	s := d.eng.Stats()
	return s.Size > 0 && s.Len > s.Size/2
}

// take returns up to overflowBatch of the datagrams kept, oldest first,
// and leaves the token in ready while more wait.
func (o *overflow) take() []*Packet {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(len(o.pkts), overflowBatch)
	out := make([]*Packet, n)
	copy(out, o.pkts)
	o.pkts = o.pkts[n:]
	for _, p := range out {
		o.bytes -= len(p.Data)
	}
	if len(o.pkts) == 0 {
		o.pkts = nil
	} else {
		select {
		case o.ready <- struct{}{}:
		default:
		}
	}
	return out
}
