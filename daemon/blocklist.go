package daemon

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iked/iked/isakmp"
)

// blockList lets the readers refuse, before the event loop's queue, the
// first messages of a source the loop has just refused for its share, its
// rate or Aggressive Mode under load (admission.go): a flood from one
// address at line rate then costs the readers a map look-up per datagram
// and cannot fill the loop's queue, where a legitimate peer's messages
// wait too. wireguard-go's receive path consults its rate limiter before
// queuing a handshake (device/receive.go) for the same reason. The loop
// writes the list; an entry lasts at most blockFor, and goes as soon as
// one of the source's half-open SAs does, so it only repeats the loop's
// last answer.
type blockList struct {
	mu sync.RWMutex
	m  map[netip.Addr]*block
}

type block struct {
	until      time.Time
	reason     Drop
	aggressive bool          // only Aggressive Mode first messages (DropDeferred)
	hits       atomic.Uint64 // refused by the readers, for the summary's sources
}

// blockFor is the longest a reader repeats a refusal of the loop.
const blockFor = time.Second

// set blocks src after the loop refused it for r, on the loop.
func (d *Daemon) block(src netip.Addr, r Drop, now time.Time) {
	l := &d.blocked
	until := now.Add(blockFor)
	if r == DropRateLimit && d.settings.RateLimit > 0 {
		// Until the next token.
		until = now.Add(min(blockFor, time.Duration(float64(time.Second)/d.settings.RateLimit)))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[netip.Addr]*block{}
	}
	if b := l.m[src]; b != nil {
		d.foldHits(src, b)
	} else if len(l.m) >= maxSources {
		for a, b := range l.m {
			if !now.Before(b.until) {
				d.foldHits(a, b)
				delete(l.m, a)
			}
		}
		if len(l.m) >= maxSources {
			return
		}
	}
	l.m[src] = &block{until: until, reason: r, aggressive: r == DropDeferred}
}

// unblock lets src's first messages reach the loop again (one of its
// half-open SAs went), on the loop.
func (d *Daemon) unblock(src netip.Addr) {
	l := &d.blocked
	l.mu.RLock()
	b := l.m[src]
	l.mu.RUnlock()
	if b == nil {
		return
	}
	l.mu.Lock()
	if b := l.m[src]; b != nil {
		d.foldHits(src, b)
		delete(l.m, src)
	}
	l.mu.Unlock()
}

// foldHits moves a block's reader refusals into the summary's counts per
// source, on the loop.
func (d *Daemon) foldHits(src netip.Addr, b *block) {
	if n := b.hits.Swap(0); n > 0 {
		d.refused.note(src, n)
	}
}

// foldAllHits folds every block's refusals, before a summary.
func (d *Daemon) foldAllHits() {
	l := &d.blocked
	l.mu.RLock()
	defer l.mu.RUnlock()
	for a, b := range l.m {
		d.foldHits(a, b)
	}
}

// blockedFirst reports whether a reader refuses p, a first message from
// a blocked source, and counts it; from the readers.
func (d *Daemon) blockedFirst(p *Packet) bool {
	h := p.Header
	if h.ResponderCookie != ([8]byte{}) || h.MessageID != 0 ||
		(h.Exchange != isakmp.ExchangeMain && h.Exchange != isakmp.ExchangeAggressive) {
		return false
	}
	l := &d.blocked
	l.mu.RLock()
	b := l.m[p.Remote.Addr()]
	l.mu.RUnlock()
	if b == nil || !d.clock.Now().Before(b.until) || (b.aggressive && h.Exchange != isakmp.ExchangeAggressive) {
		return false
	}
	b.hits.Add(1)
	d.Counters.CountDrop(b.reason)
	d.armRefusals()
	return true
}
