package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/notify"
)

// Recorder collects the catalog messages an engine or a queue reports
// (Config.Report), for the tests of this package and of engine_test.
type Recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

// Report is the Config.Report function.
func (r *Recorder) Report(m notify.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// Messages returns the messages so far.
func (r *Recorder) Messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

// Texts and Nums return the messages' texts and numbers.
func (r *Recorder) Texts() []string {
	var out []string
	for _, m := range r.Messages() {
		out = append(out, m.Text)
	}
	return out
}

func (r *Recorder) Nums() []int {
	var out []int
	for _, m := range r.Messages() {
		out = append(out, m.Num)
	}
	return out
}

func ordinary(tok uint64) Request  { return &AllocSPI{Token: tok, Protocol: ProtoESP} }
func important(tok uint64) Request { return &Detach{Token: tok} }

func TestQueueFullMessages(t *testing.T) {
	var rec Recorder
	q := NewQueue(4, rec.Report)

	// Two ordinary, two important: full.
	for i, r := range []Request{ordinary(1), important(2), ordinary(3), important(4)} {
		if d := q.Put(r); d != nil {
			t.Fatalf("put %d dropped %v", i, d)
		}
	}
	if got := rec.Texts(); len(got) != 0 {
		t.Fatalf("messages before full: %q", got)
	}

	// Each Put into the full queue drops one entry: the new ordinary one
	// (message 68), the oldest ordinary to make room for an important one
	// (69), the new important one when all are important (70).
	for _, st := range []struct {
		what string
		put  Request
		drop uint64 // the dropped entry's token
	}{
		{"ordinary into full queue", ordinary(5), 5},
		{"important into full queue", important(6), 1},
		{"second important", important(7), 3},
		{"important into queue full of important", important(8), 8},
		{"ordinary into queue full of important", ordinary(9), 9},
	} {
		if d := q.Put(st.put); d == nil || d.ID() != st.drop {
			t.Fatalf("%s: dropped %v, want token %d", st.what, d, st.drop)
		}
	}

	want := []string{
		"ssh_send_to_ipm: queue full, priority message dropped, len=248 type=1 queue_size=4",
		"ssh_send_to_ipm: dropping entry to make space for important packet",
		"ssh_send_to_ipm: dropping entry to make space for important packet",
		"ssh_send_to_ipm: WARNING: queue full, important packet dropped len = 0x10, type = 7",
		"ssh_send_to_ipm: queue full, priority message dropped, len=248 type=1 queue_size=4",
	}
	got := rec.Texts()
	if len(got) != len(want) {
		t.Fatalf("messages:\n%q\nwant\n%q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	nums := []int{68, 69, 69, 70, 68}
	for i, m := range rec.Messages() {
		if m.Num != nums[i] || m.Level != notify.LevelWarning {
			t.Errorf("message %d: num %d level %v, want %d warning", i, m.Num, m.Level, nums[i])
		}
	}

	st := q.Stats()
	if st.DroppedOrdinary != 2 || st.Displaced != 2 || st.DroppedImportant != 1 || st.Accepted != 6 || st.Len != 4 || st.HighWater != 4 {
		t.Errorf("stats = %+v", st)
	}

	// The survivors come out in the order they went in.
	var order []uint64
	for {
		r, ok := q.TryGet()
		if !ok {
			break
		}
		order = append(order, r.ID())
	}
	if want := []uint64{2, 4, 6, 7}; !equalU64(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

func TestQueueOrderMixed(t *testing.T) {
	q := NewQueue(8, nil)
	toks := []uint64{1, 2, 3, 4, 5, 6}
	for _, tok := range toks {
		if tok%2 == 0 {
			q.Put(important(tok))
		} else {
			q.Put(ordinary(tok))
		}
	}
	var got []uint64
	for range toks {
		r, ok := q.Get(nil)
		if !ok {
			t.Fatal("Get failed")
		}
		got = append(got, r.ID())
	}
	if !equalU64(got, toks) {
		t.Errorf("order %v, want %v", got, toks)
	}
	// Wrap the rings several times.
	for round := range 5 {
		for i := range 8 {
			q.Put(ordinary(uint64(round*8 + i)))
		}
		for i := range 8 {
			r, _ := q.TryGet()
			if r.ID() != uint64(round*8+i) {
				t.Fatalf("round %d: got %d", round, r.ID())
			}
		}
	}
}

func TestQueueGetWaitsAndClose(t *testing.T) {
	q := NewQueue(2, nil)
	got := make(chan uint64, 3)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, ok := q.Get(nil)
			if !ok {
				return
			}
			got <- r.ID()
		}
	}()
	q.Put(ordinary(1))
	select {
	case id := <-got:
		if id != 1 {
			t.Fatalf("got %d", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not wake up")
	}
	q.Put(important(2))
	q.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not return after Close")
	}
	if id := <-got; id != 2 {
		t.Fatalf("queued entry not drained: %d", id)
	}
	r := ordinary(3)
	if d := q.Put(r); d != r {
		t.Fatal("closed queue accepted an entry")
	}
	stop := make(chan struct{})
	close(stop)
	if _, ok := NewQueue(1, nil).Get(stop); ok {
		t.Fatal("Get on an empty queue returned an entry after done")
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
