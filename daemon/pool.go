package daemon

import (
	"fmt"
	"sync"
)

// pool runs the expensive steps of exchanges (Diffie-Hellman, signatures)
// on a fixed number of goroutines, so that a flood of first messages costs
// a bounded amount of CPU and the loop never computes. Its queue is bounded:
// when full, the job is refused and the exchange dropped (the peer
// retransmits later).
type pool struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func newPool(workers, queue int) *pool {
	p := &pool{jobs: make(chan func(), queue)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for f := range p.jobs {
				f()
			}
		}()
	}
	return p
}

// submit queues f without blocking; false when the queue is full.
func (p *pool) submit(f func()) bool {
	select {
	case p.jobs <- f:
		return true
	default:
		return false
	}
}

func (p *pool) close() {
	close(p.jobs)
	p.wg.Wait()
}

// runWork calls f and turns a panic into an error value, so that a bug in
// one exchange's crypto does not take down the daemon.
func runWork(f func() any) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = workPanic{fmt.Sprint(r)}
		}
	}()
	return f()
}

// workPanic is what Resume receives when the work function panicked.
type workPanic struct{ reason string }

func (w workPanic) Error() string { return "daemon: work panicked: " + w.reason }
