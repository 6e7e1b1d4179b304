package memory

import (
	"container/heap"
	"time"
)

// expiries are the pending lifetimes of the installed SAs, earliest
// first, behind a single timer: the kernel keeps its SA lifetimes in a
// timer per SA, but a Go daemon holding 100,000 bundles with a
// time.Timer for each soft and hard lifetime kept 400,000 runtime timers
// and their closures (docs/performance.md, "Memory at scale"). Every
// method runs with the Backend's mu held.
type expiries struct {
	q     []*entry
	timer *time.Timer // made on first use, on the engine's goroutine
	armed time.Time   // when timer fires; zero: stopped
}

func (x *expiries) Len() int           { return len(x.q) }
func (x *expiries) Less(i, j int) bool { return x.q[i].due.Before(x.q[j].due) }
func (x *expiries) Swap(i, j int) {
	x.q[i], x.q[j] = x.q[j], x.q[i]
	x.q[i].at, x.q[j].at = i, j
}
func (x *expiries) Push(v any) {
	e := v.(*entry)
	e.at = len(x.q)
	x.q = append(x.q, e)
}
func (x *expiries) Pop() any {
	n := len(x.q) - 1
	e := x.q[n]
	x.q[n] = nil
	x.q = x.q[:n]
	e.at = -1
	return e
}

// add schedules e's lifetime at due (hard or soft), replacing what it had
// pending.
func (x *expiries) add(b *Backend, e *entry, due time.Time, hard bool) {
	x.remove(e)
	e.due, e.dueHard = due, hard
	heap.Push(x, e)
	x.rearm(b)
}

// remove cancels e's pending lifetime, if any.
func (x *expiries) remove(e *entry) {
	if e.at >= 0 && e.at < len(x.q) && x.q[e.at] == e {
		heap.Remove(x, e.at)
	}
	e.at = -1
}

// stopAll forgets every pending lifetime (Close, Flush).
func (x *expiries) stopAll() {
	for _, e := range x.q {
		e.at = -1
	}
	x.q = nil
	if x.timer != nil {
		x.timer.Stop()
	}
	x.armed = time.Time{}
}

// rearm points the timer at the earliest deadline.
func (x *expiries) rearm(b *Backend) {
	if len(x.q) == 0 {
		if x.timer != nil {
			x.timer.Stop()
		}
		x.armed = time.Time{}
		return
	}
	next := x.q[0].due
	if !x.armed.IsZero() && x.armed.Equal(next) {
		return
	}
	d := max(time.Until(next), 0)
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
	for len(x.q) > 0 && !x.q[0].due.After(now) {
		b.expired(heap.Pop(x).(*entry))
	}
	x.rearm(b)
}
