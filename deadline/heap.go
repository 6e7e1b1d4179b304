// Package deadline is a heap of deadlines from which any entry can be
// taken out again: what keeps many timers behind one runtime timer (the
// daemon's per-SA timers, daemon/satimer.go; the memory engine's SA
// lifetimes, engine/memory/expiry.go). A runtime timer and its closure
// per deadline cost about 200 bytes each, and a daemon holding 100,000
// SAs had half a million of them (docs/performance.md, "Memory at
// scale").
package deadline

import (
	"container/heap"
	"time"
)

// Entry is the part of a value the heap manages: embed it.
type Entry struct {
	// At is when the entry is due; set it before Push.
	At  time.Time
	pos int // index in the heap plus one; 0: not in a heap
}

// Deadline returns the entry itself, so that a type embedding Entry is an
// Item.
func (e *Entry) Deadline() *Entry { return e }

// Pending reports whether the entry is in a heap.
func (e *Entry) Pending() bool { return e.pos > 0 }

// Item is a value with an embedded Entry (usually a pointer to a struct).
type Item interface{ Deadline() *Entry }

// Heap holds items earliest first. The zero value is empty and ready.
type Heap[T Item] struct {
	q items[T]
}

// Len is the number of pending items.
func (h *Heap[T]) Len() int { return len(h.q) }

// Push adds x, due at x.Deadline().At; x must not be pending already.
func (h *Heap[T]) Push(x T) { heap.Push(&h.q, x) }

// Remove takes x out; it reports whether x was pending here.
func (h *Heap[T]) Remove(x T) bool {
	e := x.Deadline()
	i := e.pos - 1
	if i < 0 || i >= len(h.q) || h.q[i].Deadline() != e {
		return false
	}
	heap.Remove(&h.q, i)
	return true
}

// Next returns when the earliest item is due; false when none is pending.
func (h *Heap[T]) Next() (time.Time, bool) {
	if len(h.q) == 0 {
		return time.Time{}, false
	}
	return h.q[0].Deadline().At, true
}

// PopDue takes out and returns the earliest item if it is due at now.
func (h *Heap[T]) PopDue(now time.Time) (T, bool) {
	if len(h.q) == 0 || h.q[0].Deadline().At.After(now) {
		var zero T
		return zero, false
	}
	return heap.Pop(&h.q).(T), true
}

// Clear forgets every item.
func (h *Heap[T]) Clear() {
	for _, x := range h.q {
		x.Deadline().pos = 0
	}
	h.q = nil
}

// items is heap.Interface over the slice.
type items[T Item] []T

func (q items[T]) Len() int           { return len(q) }
func (q items[T]) Less(i, j int) bool { return q[i].Deadline().At.Before(q[j].Deadline().At) }
func (q items[T]) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].Deadline().pos, q[j].Deadline().pos = i+1, j+1
}
func (q *items[T]) Push(v any) {
	x := v.(T)
	*q = append(*q, x)
	x.Deadline().pos = len(*q)
}
func (q *items[T]) Pop() any {
	old := *q
	n := len(old) - 1
	x := old[n]
	var zero T
	old[n] = zero
	*q = old[:n]
	x.Deadline().pos = 0
	return x
}
