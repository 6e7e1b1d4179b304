package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ioPool runs the blocking steps of exchanges (Result.IO: an XAUTH
// backend's RADIUS round trips, a PAM conversation, a bcrypt check) on a
// small budget of goroutines of their own, apart from the worker pool
// (pool.go): a RADIUS server that does not answer holds an I/O goroutine
// for its timeout, never a worker that Diffie-Hellman needs. Jobs wait in
// one bounded FIFO; a full one refuses the job, and the exchange is
// resumed with ErrIOFull at once. Closing cancels the context every job
// runs with, so that a stop does not wait for a server's timeouts.
type ioPool struct {
	jobs   chan func(context.Context)
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	// held counts the jobs taken and not finished, running or waiting;
	// at most limit, the goroutines and the queue.
	held, limit int
	wg          sync.WaitGroup
}

// Default I/O budget: a handful of logins checked at once covers a
// gateway's morning rush (a check takes a RADIUS round trip or a bcrypt
// hash, some milliseconds), and the queue absorbs a burst of them.
const (
	defaultIOWorkers = 8
	defaultIOQueue   = 64
)

// ErrIOFull is what Exchange.Resume receives for a Result.IO job that the
// I/O pool refused: its goroutines are busy and its queue is full.
var ErrIOFull = errors.New("daemon: the I/O job queue is full")

func newIOPool(workers, queue int) *ioPool {
	p := &ioPool{jobs: make(chan func(context.Context), workers+queue), limit: workers + queue}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for f := range p.jobs {
				f(p.ctx)
				p.mu.Lock()
				p.held--
				p.mu.Unlock()
			}
		}()
	}
	return p
}

// submit queues f without blocking; false when every goroutine is busy
// and the queue full, or the pool closed.
func (p *ioPool) submit(f func(context.Context)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.held >= p.limit {
		return false
	}
	p.held++
	p.jobs <- f // never blocks: the channel holds limit jobs
	return true
}

// queued returns the jobs waiting for a goroutine.
func (p *ioPool) queued() int { return len(p.jobs) }

// close cancels the running jobs' context, lets the queued ones run with
// it cancelled, and waits for the goroutines.
func (p *ioPool) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.cancel()
		close(p.jobs)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// runIO calls f and turns a panic into an error value, as runWork does.
func runIO(ctx context.Context, f func(context.Context) any) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = workPanic{fmt.Sprint(r)}
		}
	}()
	return f(ctx)
}
