package daemon

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/engine"
)

// newTokenRaw returns a token for an engine request, unique in the process.
func (d *Daemon) newTokenRaw() uint64 { return tokenCounter.Add(1) }

// submit queues an engine request; a request the bounded queue drops is
// answered to its exchange at once with a failure event.
func (d *Daemon) submit(r engine.Request) {
	dropped := d.eng.Submit(r)
	if dropped == nil {
		return
	}
	d.Counters.EngineDropped.Add(1)
	ev := engine.Event{Token: dropped.ID(), Err: errQueueFull}
	switch dropped.Type() {
	case engine.ReqAllocSPI:
		ev.Kind = engine.EventSPIFailed
	case engine.ReqInstall:
		ev.Kind = engine.EventInstallFailed
	case engine.ReqDelete:
		ev.Kind = engine.EventDeleteFailed
	default:
		ev.Kind = engine.EventPoliciesFailed
	}
	d.engineEvent(ev)
}

// engineEvent routes an engine answer to the exchange that asked, and a
// kernel report to the registered KernelHandler.
func (d *Daemon) engineEvent(ev engine.Event) {
	if ev.Token != 0 {
		ref, ok := d.tokens[ev.Token]
		if !ok {
			d.log.Debug("engine event for nobody", zap.Stringer("event", ev))
			return
		}
		delete(d.tokens, ev.Token)
		if ref.sa == nil {
			// The daemon's own request (a reload's policies).
			if ref.then != nil {
				ref.then(ev)
			} else if ev.Err != nil {
				d.log.Error("engine request failed", zap.Stringer("event", ev))
			} else {
				d.log.Debug("engine request done", zap.Stringer("event", ev))
			}
			return
		}
		d.resume(ref.sa, ref.run, ev)
		return
	}
	if d.kernel == nil {
		d.log.Debug("kernel event ignored", zap.Stringer("event", ev))
		return
	}
	res := d.safeCall(&SA{exchanges: map[uint32]*running{}}, nil, func(c *Context) Result {
		c.SA = nil
		return d.kernel.Kernel(c, ev)
	})
	if res.Reject != nil {
		d.log.Debug("kernel event refused", zap.Stringer("event", ev), zap.Error(res.Reject))
		return
	}
	for _, m := range res.Log {
		d.log.Emit(m)
	}
	for _, r := range res.Engine {
		d.submit(r)
	}
	d.flushBegun()
}

// tokenCounter numbers the engine requests of the process.
var tokenCounter atomic.Uint64

// attach installs the policy's kernel policies and waits for the engine's
// answer (message 2 is logged by the engine).
func (d *Daemon) attach() error {
	tok := d.newTokenRaw()
	if dropped := d.eng.Submit(&engine.Attach{Token: tok, Policies: d.policy.Policies}); dropped != nil {
		return fmt.Errorf("daemon: engine queue refused the policies")
	}
	ev, err := d.waitEngine(tok, 30*time.Second)
	if err != nil {
		return err
	}
	if ev.Kind != engine.EventAttached {
		d.log.Error("cannot install the kernel policies", zap.Stringer("event", ev))
		return fmt.Errorf("daemon: %s", ev)
	}
	return nil
}

// detach removes what the engine installed (message 3 is logged by it).
func (d *Daemon) detach() {
	tok := d.newTokenRaw()
	if dropped := d.eng.Submit(&engine.Detach{Token: tok}); dropped != nil {
		d.log.Error("engine queue refused the detach")
		return
	}
	if ev, err := d.waitEngine(tok, 30*time.Second); err != nil {
		d.log.Error("engine did not detach", zap.Error(err))
	} else if ev.Err != nil {
		d.log.Warn("engine detached with errors", zap.Error(ev.Err))
	}
}

// waitEngine reads engine events outside the loop (start-up and shutdown)
// until the one answering tok.
func (d *Daemon) waitEngine(tok uint64, limit time.Duration) (engine.Event, error) {
	deadline := time.After(limit)
	for {
		select {
		case ev, ok := <-d.eng.Events():
			if !ok {
				return engine.Event{}, errors.New("daemon: engine closed")
			}
			if ev.Token == tok {
				return ev, nil
			}
		case <-deadline:
			return engine.Event{}, errors.New("daemon: engine did not answer")
		}
	}
}
