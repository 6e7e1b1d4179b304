package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/iked/iked/notify"
)

// Config tunes an Engine.
type Config struct {
	QueueSize   int                  // bound of the request queue; 0: DefaultQueueSize
	EventBuffer int                  // events buffered for the daemon's loop; 0: 256
	Report      func(notify.Message) // where catalog messages 2, 3, 65, 66, 68-70 go
}

// Engine is the daemon's handle on the packet processing engine. The daemon's
// loop calls Submit (never blocks) and reads Events; one worker goroutine
// owns the Backend.
type Engine struct {
	backend Backend
	queue   *Queue
	events  chan Event
	report  func(notify.Message)
	stop    chan struct{}
	worker  sync.WaitGroup
	monitor sync.WaitGroup
	opened  bool
	closeMu sync.Once
	closeE  error
}

// New returns an engine over b; Open starts it.
func New(b Backend, cfg Config) *Engine {
	report := cfg.Report
	if report == nil {
		report = func(notify.Message) {}
	}
	n := cfg.EventBuffer
	if n <= 0 {
		n = 256
	}
	return &Engine{
		backend: b,
		queue:   NewQueue(cfg.QueueSize, report),
		events:  make(chan Event, n),
		report:  report,
		stop:    make(chan struct{}),
	}
}

// Open opens the backend and starts the worker. The daemon logs message 1
// before calling it; a failure is returned as message 4 (a notify.Message,
// errors.As finds it) joined with the backend's reason.
func (e *Engine) Open() error {
	if err := e.backend.Open(); err != nil {
		return fmt.Errorf("%w (%s: %w)", notify.EngineOpenFailed(), e.backend.Name(), err)
	}
	e.opened = true
	e.worker.Add(1)
	e.monitor.Add(1)
	go e.work()
	go e.forward()
	return nil
}

// Submit queues a request without blocking and returns the request dropped
// to keep the queue bounded, if any (see Queue.Put): the daemon fails the
// exchange that waited for it.
func (e *Engine) Submit(r Request) (dropped Request) { return e.queue.Put(r) }

// Events is where answers and kernel reports arrive. It is closed by Close.
func (e *Engine) Events() <-chan Event { return e.events }

// Stats returns the queue's counters.
func (e *Engine) Stats() QueueStats { return e.queue.Stats() }

// Backend returns the backend (tests read the memory backend's records).
func (e *Engine) Backend() Backend { return e.backend }

// Close drains the queued requests (their events are discarded once nobody
// reads them), stops the monitor and closes Events. Submit a Detach first to
// withdraw the engine's kernel state.
func (e *Engine) Close() error {
	e.closeMu.Do(func() {
		e.queue.Close()
		close(e.stop)
		if !e.opened {
			e.closeE = nil
			close(e.events)
			return
		}
		e.worker.Wait() // the requests already queued still run
		e.closeE = e.backend.Close()
		e.monitor.Wait()
		close(e.events)
	})
	return e.closeE
}

func (e *Engine) emit(ev Event) {
	select {
	case e.events <- ev:
	case <-e.stop:
		// Closing: nobody may read any more; never block shutdown.
		select {
		case e.events <- ev:
		default:
		}
	}
}

func (e *Engine) forward() {
	defer e.monitor.Done()
	ch := e.backend.Notifications()
	if ch == nil {
		return
	}
	for ev := range ch {
		e.emit(ev)
	}
}

func (e *Engine) work() {
	defer e.worker.Done()
	for {
		r, ok := e.queue.Get(nil)
		if !ok {
			return
		}
		e.emit(e.Do(r))
	}
}

// Do carries out one request synchronously on the backend and returns its
// answer. The worker uses it; tests and `iked -check` may call it directly.
func (e *Engine) Do(r Request) Event {
	b := e.backend
	switch r := r.(type) {
	case *AllocSPI:
		ev := Event{Token: r.Token, Protocol: r.Protocol}
		spi, err := b.AllocSPI(r)
		if err != nil {
			ev.Kind, ev.Err = EventSPIFailed, err
			return ev
		}
		ev.Kind, ev.SPI = EventSPIAllocated, spi
		return ev
	case *Install:
		if r.Bundle == nil {
			return Event{Kind: EventInstallFailed, Token: r.Token, Err: errors.New("engine: no bundle")}
		}
		ev := Event{Token: r.Token, BundleID: r.Bundle.ID}
		if err := r.Bundle.Validate(); err != nil {
			if m, ok := err.(notify.Message); ok {
				e.report(m)
			}
			ev.Kind, ev.Err = EventInstallFailed, err
			return ev
		}
		if err := b.Install(r.Bundle); err != nil {
			ev.Kind, ev.Err = EventInstallFailed, err
			return ev
		}
		ev.Kind = EventInstalled
		return ev
	case *Delete:
		if err := b.Delete(r.SAs); err != nil {
			return Event{Kind: EventDeleteFailed, Token: r.Token, Err: err}
		}
		return Event{Kind: EventDeleted, Token: r.Token}
	case *InstallPolicies:
		if err := e.installPolicies(r.Policies); err != nil {
			return Event{Kind: EventPoliciesFailed, Token: r.Token, Err: err}
		}
		return Event{Kind: EventPoliciesInstalled, Token: r.Token}
	case *RemovePolicies:
		return Event{Kind: EventPoliciesRemoved, Token: r.Token, Err: b.RemovePolicies(r.Policies)}
	case *Attach:
		if err := e.installPolicies(r.Policies); err != nil {
			return Event{Kind: EventPoliciesFailed, Token: r.Token, Err: err}
		}
		e.report(notify.EngineAttached())
		return Event{Kind: EventAttached, Token: r.Token}
	case *Detach:
		err := b.Flush()
		e.report(notify.EngineDetached())
		return Event{Kind: EventDetached, Token: r.Token, Err: err}
	}
	return Event{Kind: EventBackendError, Token: r.ID(), Err: fmt.Errorf("engine: unknown request %T", r)}
}

func (e *Engine) installPolicies(ps []Policy) error {
	for i := range ps {
		if err := ps[i].Validate(); err != nil {
			return fmt.Errorf("%w (policy %s)", err, ps[i])
		}
	}
	return e.backend.InstallPolicies(ps)
}
