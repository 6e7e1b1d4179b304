package daemon

import (
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/deadline"
)

// Per-SA timers: DPD probes, NAT keepalives and the ISAKMP SA's lifetime
// are each a time at which phase 1 wants to act on one SA. The loop keeps
// them on the SA, runs them on the injected Clock (virtual in tests) and
// carries out their firing on the loop, so the callback runs with the
// SA's Context. Removing the SA stops them all.
//
// They are not a Clock timer each but entries of one heap of deadlines
// (package deadline) that the loop owns (timerHeap), behind a single
// Clock timer set for the earliest: a daemon holding 100,000 ISAKMP SAs kept a runtime timer and
// two closures per lifetime, half-open limit and finished exchange
// (docs/performance.md, "Memory at scale"). The half-open expiry
// (satable.go) and a finished exchange's reply cache (exchange.go) are
// entries of the same heap.

// TimerFunc is what a per-SA timer runs, on the loop, with c.SA set. Its
// Result is carried out as an exchange's would be: Send and Raw go to the
// SA's peer, DeleteSA (with Why) removes the SA. It may re-arm itself with
// c.At.
type TimerFunc func(c *Context) Result

// saTimer is one armed deadline of the heap: a named timer of an SA (f)
// or one of the loop's own (run).
type saTimer struct {
	deadline.Entry
	sa  *SA
	key string
	f   TimerFunc
	run func()
	h   *timerHeap
}

// Stop cancels the deadline if it is pending (Timer).
func (st *saTimer) Stop() bool {
	if st.h == nil || !st.h.q.Remove(st) {
		return false
	}
	st.h.rearm()
	return true
}

// timerHeap is the loop's heap of deadlines. Only the loop touches it
// (Stop after the loop ended runs on the stopping goroutine, alone).
type timerHeap struct {
	d      *Daemon
	q      deadline.Heap[*saTimer]
	timer  Timer     // the Clock timer for the earliest deadline
	armed  time.Time // when timer fires; zero: none
	gen    uint64    // tells the current Clock timer from replaced ones
	closed bool      // the loop ended: no Clock timer any more
}

// schedule makes st pending at st.At.
func (h *timerHeap) schedule(st *saTimer) {
	st.h = h
	h.q.Push(st)
	h.rearm()
}

// after runs f on the loop after delay: the loop's own deadlines (the
// half-open expiry, a finished exchange's reply cache).
func (h *timerHeap) after(delay time.Duration, f func()) *saTimer {
	st := &saTimer{run: f}
	st.At = h.d.clock.Now().Add(delay)
	h.schedule(st)
	return st
}

// rearm points the Clock timer at the earliest deadline, or leaves it at
// an earlier time.
func (h *timerHeap) rearm() {
	next, ok := h.q.Next()
	if h.closed || !ok {
		if h.timer != nil {
			h.timer.Stop()
			h.timer = nil
		}
		h.armed = time.Time{}
		return
	}
	if h.timer != nil && !next.Before(h.armed) {
		// Armed at or before the earliest deadline: when it fires, due
		// runs what has come (perhaps nothing) and re-arms. A deadline
		// stopped before it came (the half-open expiry of an SA that
		// got established, the usual end of one) thus costs no new
		// Clock timer, which is two allocations each.
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	d := h.d
	h.armed = next
	h.gen++
	gen := h.gen
	h.timer = d.clock.AfterFunc(max(next.Sub(d.clock.Now()), 0), func() { d.postEvent(event{due: gen}) })
}

// due runs, on the loop, the deadlines that have come, earliest first,
// then re-arms for the next. gen is the Clock timer's that posted it: one
// replaced after it had fired leaves the current one in place.
func (h *timerHeap) due(gen uint64) {
	if gen == h.gen {
		h.timer, h.armed = nil, time.Time{}
	}
	now := h.d.clock.Now()
	for {
		st, ok := h.q.PopDue(now)
		if !ok {
			break
		}
		if st.run != nil {
			st.run()
		} else {
			h.d.fire(st)
		}
	}
	h.rearm()
}

// close stops the Clock timer for good, once the loop has ended: what
// Stop removes afterwards needs no timer.
func (h *timerHeap) close() {
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}

// maxTimersPerSA bounds the named timers one SA may hold; the names come
// from our own code, never from the network, so this only catches a bug.
const maxTimersPerSA = 16

// initialSATimers is the room an SA's list of named timers starts with.
const initialSATimers = 4

// timer returns the named timer of sa, nil if none is armed.
func (sa *SA) timer(key string) *saTimer {
	for _, st := range sa.timers {
		if st.key == key {
			return st
		}
	}
	return nil
}

// dropTimer takes st out of sa's list of named timers.
func (sa *SA) dropTimer(st *saTimer) {
	for i, o := range sa.timers {
		if o == st {
			last := len(sa.timers) - 1
			sa.timers[i] = sa.timers[last]
			sa.timers[last] = nil
			sa.timers = sa.timers[:last]
			break
		}
	}
	if len(sa.timers) == 0 {
		sa.timers = nil
	}
}

// At arms the timer named key on c.SA to run f at t (at once if t has
// passed), replacing a timer of the same name. It does nothing on an SA
// that is no longer in the tables.
func (c *Context) At(key string, t time.Time, f TimerFunc) {
	sa := c.SA
	d := c.d
	if d == nil || sa == nil || f == nil || !d.alive(sa) {
		return
	}
	if old := sa.timer(key); old != nil {
		old.Stop()
		sa.dropTimer(old)
	} else if len(sa.timers) >= maxTimersPerSA {
		d.log.Error("too many timers on an SA; timer not armed", zap.String("timer", key), zap.Stringer("cookies", sa.Cookies))
		return
	}
	st := &saTimer{sa: sa, key: key, f: f}
	st.At = t
	if sa.timers == nil {
		// Room for the few an SA holds (phase 1's lifetime and DPD,
		// Quick Mode's rekey) at once, rather than 1, 2, then 4.
		sa.timers = make([]*saTimer, 0, initialSATimers)
	}
	sa.timers = append(sa.timers, st)
	d.timers.schedule(st)
}

// Cancel stops the timer named key on c.SA, if armed.
func (c *Context) Cancel(key string) {
	if c.SA == nil {
		return
	}
	if st := c.SA.timer(key); st != nil {
		st.Stop()
		c.SA.dropTimer(st)
	}
}

// TimerAt returns when the timer named key on c.SA fires (zero: not
// armed), for tests and ikectl.
func (c *Context) TimerAt(key string) time.Time {
	if c.SA == nil {
		return time.Time{}
	}
	if st := c.SA.timer(key); st != nil {
		return st.At
	}
	return time.Time{}
}

// fire runs a named timer that came due, unless its SA was removed
// meanwhile (a replaced or cancelled timer is no longer in the heap).
func (d *Daemon) fire(st *saTimer) {
	sa := st.sa
	if !d.alive(sa) || sa.timer(st.key) != st {
		return
	}
	sa.dropTimer(st)
	d.Counters.Timers.Add(1)
	res := d.safeCall(sa, nil, func(c *Context) Result { return st.f(c) })
	if res.Reject != nil {
		d.log.Debug("SA timer refused", zap.String("timer", st.key), zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
		return
	}
	if !d.alive(sa) {
		d.aside(sa, res)
		return
	}
	d.carryOut(sa, nil, res, false)
}

// stopTimers stops every per-SA timer of sa.
func (sa *SA) stopTimers() {
	for _, st := range sa.timers {
		st.Stop()
	}
	sa.timers = nil
}
