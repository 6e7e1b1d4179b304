package engine

import "testing"

// BenchmarkQueuePutGet measures one Put and one Get, the cost per request on
// the daemon's loop and the worker.
func BenchmarkQueuePutGet(b *testing.B) {
	q := NewQueue(1024, nil)
	r := ordinary(1)
	b.ReportAllocs()
	for b.Loop() {
		q.Put(r)
		q.TryGet()
	}
}

// BenchmarkQueueFullDisplace measures an important Put into a full queue
// that must drop an ordinary entry (message 69, reported to a no-op), with
// the ordinary Put that fills it and the Get that empties it.
func BenchmarkQueueFullDisplace(b *testing.B) {
	q := NewQueue(1, nil)
	o, imp := ordinary(1), important(2)
	b.ReportAllocs()
	for b.Loop() {
		q.Put(o) // fills the queue
		if d := q.Put(imp); d != o {
			b.Fatal("important entry did not displace the ordinary one")
		}
		q.TryGet()
	}
}

// BenchmarkQueueParallel measures Put from several goroutines against one
// consumer, the daemon loop and the engine worker contending.
func BenchmarkQueueParallel(b *testing.B) {
	q := NewQueue(1024, nil)
	done := make(chan struct{})
	go func() {
		for {
			if _, ok := q.Get(done); !ok {
				return
			}
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		r := ordinary(1)
		for pb.Next() {
			q.Put(r)
		}
	})
	close(done)
}
