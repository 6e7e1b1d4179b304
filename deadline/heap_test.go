package deadline

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type timer struct {
	Entry
	n int
}

// TestHeap: items pushed in any order come out in time order, each only
// once it is due; removed ones never come out, and a second Remove (or a
// Remove of an item never pushed) reports false.
func TestHeap(t *testing.T) {
	var h Heap[*timer]
	start := time.Unix(1e9, 0)
	r := rand.New(rand.NewPCG(3, 4))
	var all []*timer
	for i := range 500 {
		x := &timer{n: i}
		x.At = start.Add(time.Duration(r.IntN(10000)) * time.Millisecond)
		h.Push(x)
		all = append(all, x)
	}
	var want []time.Time
	for i, x := range all {
		if i%3 == 0 {
			if !h.Remove(x) || h.Remove(x) || x.Pending() {
				t.Fatalf("item %d: Remove", i)
			}
			continue
		}
		want = append(want, x.At)
	}
	if h.Remove(&timer{}) {
		t.Fatal("Remove of an item never pushed reported true")
	}
	slices.SortFunc(want, func(a, b time.Time) int { return a.Compare(b) })
	if next, ok := h.Next(); !ok || !next.Equal(want[0]) {
		t.Fatalf("Next %v %v, want %v", next, ok, want[0])
	}
	if _, ok := h.PopDue(want[0].Add(-time.Nanosecond)); ok {
		t.Fatal("an item came out before it was due")
	}
	var got []time.Time
	for now := start; h.Len() > 0; now = now.Add(100 * time.Millisecond) {
		for {
			x, ok := h.PopDue(now)
			if !ok {
				break
			}
			if x.At.After(now) || x.Pending() {
				t.Fatalf("item due %v out at %v (pending %v)", x.At, now, x.Pending())
			}
			got = append(got, x.At)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%d items out of order or missing, want %d", len(got), len(want))
	}
	h.Push(all[1])
	h.Clear()
	if h.Len() != 0 || all[1].Pending() {
		t.Fatal("Clear left items")
	}
}
