package daemon

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestIOPoolBounds: two goroutines and a queue of one take three jobs
// that block; the fourth is refused at once. Closing cancels the running
// jobs' context, runs the queued one with it cancelled, and refuses
// anything after.
func TestIOPoolBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newIOPool(2, 1)
		started := make(chan struct{}, 3)
		ended := make(chan error, 3)
		job := func(ctx context.Context) {
			started <- struct{}{}
			<-ctx.Done()
			ended <- ctx.Err()
		}
		for i := range 3 {
			if !p.submit(job) {
				t.Fatalf("job %d refused", i+1)
			}
		}
		synctest.Wait()
		if len(started) != 2 || p.queued() != 1 {
			t.Fatalf("%d running, %d queued; want 2 and 1", len(started), p.queued())
		}
		if p.submit(job) {
			t.Fatal("a fourth job was taken by a full pool")
		}
		p.close()
		if len(ended) != 3 {
			t.Fatalf("%d jobs ended at close, want 3", len(ended))
		}
		for range 3 {
			if err := <-ended; err != context.Canceled {
				t.Errorf("job ended with %v", err)
			}
		}
		if p.submit(job) {
			t.Error("a closed pool took a job")
		}
	})
}
