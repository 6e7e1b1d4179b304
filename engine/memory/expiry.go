package memory

import (
	"time"

	"github.com/iked/iked/deadline"
)

// expiries are the pending lifetimes of the installed SAs, earliest
// first (package deadline), behind a single timer: the kernel keeps its
// SA lifetimes in a timer per SA, but a Go daemon holding 100,000 bundles
// with a time.Timer for each soft and hard lifetime kept 400,000 runtime
// timers and their closures (docs/performance.md, "Memory at scale").
// Every method runs with the Backend's mu held.
type expiries struct {
	q     deadline.Heap[*entry]
	timer *time.Timer // made on first use, on the engine's goroutine
	armed time.Time   // when timer fires; zero: stopped
}

// add schedules e's lifetime at due (hard or soft), replacing what it had
// pending.
func (x *expiries) add(b *Backend, e *entry, due time.Time, hard bool) {
	x.q.Remove(e)
	e.At, e.dueHard = due, hard
	x.q.Push(e)
	x.rearm(b)
}

// remove cancels e's pending lifetime, if any.
func (x *expiries) remove(e *entry) { x.q.Remove(e) }

// stopAll forgets every pending lifetime (Close, Flush).
func (x *expiries) stopAll() {
	x.q.Clear()
	if x.timer != nil {
		x.timer.Stop()
	}
	x.armed = time.Time{}
}

// rearm points the timer at the earliest deadline.
func (x *expiries) rearm(b *Backend) {
	next, ok := x.q.Next()
	if !ok {
		if x.timer != nil {
			x.timer.Stop()
		}
		x.armed = time.Time{}
		return
	}
	if !x.armed.IsZero() && x.armed.Equal(next) {
		return
	}
	// At least a nanosecond, never a timer due at once: see
	// daemon.SystemClock.AfterFunc (daemon/clock.go) for what those do
	// in the tests' synctest bubbles under -race.
	d := max(time.Until(next), time.Nanosecond)
	if x.timer == nil {
		x.timer = time.AfterFunc(d, b.fire)
	} else {
		x.timer.Stop()
		x.timer.Reset(d)
	}
	x.armed = next
}

// fire runs the lifetimes that fell due, then re-arms for the next.
func (b *Backend) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	x := &b.expiries
	x.armed = time.Time{}
	select {
	case <-b.done:
		return
	default:
	}
	now := time.Now()
	for {
		e, ok := x.q.PopDue(now)
		if !ok {
			break
		}
		b.expired(e)
	}
	x.rearm(b)
}
