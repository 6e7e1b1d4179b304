package daemon

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
)

// TestPoolPriority: with the one worker busy, a queue of first jobs from
// one flooding address, one from another address and one high job: the
// high job runs first, then the addresses take turns, so the other
// address's job runs second, not after the flood.
func TestPoolPriority(t *testing.T) {
	p := newPool(1)
	defer p.close()
	flood, other := netip.MustParseAddr("198.51.100.66"), netip.MustParseAddr("198.51.100.7")
	gate := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var order []string
	job := func(name string) func() {
		return func() {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	p.submit(priorityHigh, other, highQueue, func() { close(started); <-gate })
	<-started
	for i := range 5 {
		if !p.submit(priorityLow, flood, 5, job("flood"+string(rune('0'+i)))) {
			t.Fatalf("flood job %d refused below the limit", i)
		}
	}
	if p.submit(priorityLow, flood, 5, job("flood-over")) {
		t.Error("a sixth low job accepted with the limit at 5")
	}
	if !p.submit(priorityLow, other, 6, job("other-first")) {
		t.Fatal("low job of another address refused")
	}
	if !p.submit(priorityHigh, other, highQueue, job("quick-mode")) {
		t.Fatal("high job refused while the low queue is full")
	}
	if h, l := p.queued(); h != 1 || l != 6 {
		t.Errorf("queued high %d low %d, want 1 and 6", h, l)
	}
	p.submit(priorityLow, flood, 10, func() { wg.Done() })
	close(gate)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"quick-mode", "flood0", "other-first", "flood1", "flood2", "flood3", "flood4"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}
