package daemon

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// stepClock is a Clock whose time moves only when the test says; it keeps
// every AfterFunc so the test can count the pending ones and fire them.
type stepClock struct {
	now     time.Time
	pending []*stepTimer
}

type stepTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &stepTimer{at: c.now.Add(d), f: f}
	c.pending = append(c.pending, t)
	return t
}

func (t *stepTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

// live returns the timers neither stopped nor fired.
func (c *stepClock) live() []*stepTimer {
	var out []*stepTimer
	for _, t := range c.pending {
		if !t.stopped {
			out = append(out, t)
		}
	}
	return out
}

// TestTimerHeap: deadlines armed in any order run in time order, each at
// its time; a stopped one never runs; and however many are pending, the
// loop holds one Clock timer, for the earliest or before it.
func TestTimerHeap(t *testing.T) {
	clk := &stepClock{now: time.Unix(1e9, 0)}
	d := New(Options{Clock: clk})
	start := clk.now
	var ran []time.Duration
	var all []*saTimer
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		delay := time.Duration(r.IntN(3600)) * time.Second
		all = append(all, d.timers.after(delay, func() { ran = append(ran, clk.now.Sub(start)) }))
	}
	var want []time.Duration
	for i, st := range all {
		if i%5 == 0 {
			if !st.Stop() {
				t.Fatal("Stop of a pending deadline reported false")
			}
			continue
		}
		want = append(want, st.At.Sub(start))
	}
	slices.Sort(want)
	for steps := 0; ; steps++ {
		live := clk.live()
		if len(live) > 1 {
			t.Fatalf("%d Clock timers pending, want one", len(live))
		}
		if len(live) == 0 {
			break
		}
		if steps > 1000 {
			t.Fatal("the deadlines never end")
		}
		next := live[0]
		if next.at.Before(clk.now) {
			t.Fatalf("Clock timer in the past: %v < %v", next.at, clk.now)
		}
		clk.now = next.at
		next.stopped = true
		next.f()
		for len(d.events) > 0 {
			d.handle(<-d.events)
		}
	}
	if !slices.Equal(ran, want) {
		t.Fatalf("deadlines ran at\n%v\nwant\n%v", ran, want)
	}
	if d.timers.q.Len() != 0 {
		t.Fatalf("%d deadlines left", d.timers.q.Len())
	}
}
