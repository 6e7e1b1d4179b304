package daemon

import (
	"errors"
	"fmt"
	"slices"
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
	if d.flushing && mootAtStop(r) {
		return
	}
	if ref, ok := d.tokens[r.ID()]; ok && ref.sa != nil && undoable(r) {
		ref.req = r
		d.tokens[r.ID()] = ref
	}
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
		if ref.sa != nil {
			if i := slices.Index(ref.sa.tokens, ev.Token); i >= 0 {
				ref.sa.tokens = slices.Delete(ref.sa.tokens, i, i+1)
			}
			if len(ref.sa.tokens) == 0 {
				ref.sa.tokens = nil
			}
		}
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
		if !d.alive(ref.sa) || ref.sa.exchanges[ref.run.id] != ref.run || ref.run.done {
			d.undo(ref, ev)
			return
		}
		d.resume(ref.sa, ref.run, ev)
		return
	}
	if d.kernel == nil {
		d.log.Debug("kernel event ignored", zap.Stringer("event", ev))
		return
	}
	res := d.safeCall(&SA{}, nil, func(c *Context) Result {
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

// mootAtStop reports whether r only takes out something the engine put
// in: once Stop has begun, the Detach at its end flushes every SA and
// policy the engine installed (engine.Backend's Flush, as XFRM's flush of
// what the daemon owns), so the per-SA deletes of a shutdown would only
// fill the engine's queue: at 100,000 SAs it overflowed (message 70) and
// held the stop up (docs/performance.md, "Memory at scale").
func mootAtStop(r engine.Request) bool {
	switch r.(type) {
	case *engine.Delete, *engine.RemovePolicies:
		return true
	}
	return false
}

// undoable reports whether r puts something into the engine that its
// exchange must own: an SPI reservation, a bundle, kernel policies.
func undoable(r engine.Request) bool {
	switch r.(type) {
	case *engine.AllocSPI, *engine.Install, *engine.InstallPolicies:
		return true
	}
	return false
}

// undo takes back what an engine answer put in for an exchange that is no
// longer there to own it: the ISAKMP SA was removed (DPD, a terminate) or
// the exchange ended while the engine was still installing. Left alone,
// such a bundle would sit in the kernel untracked, never rekeyed nor
// deleted, and its policies would outlive it.
func (d *Daemon) undo(ref tokenRef, ev engine.Event) {
	var r engine.Request
	tok := d.newTokenRaw()
	why := "the exchange ended"
	if !d.alive(ref.sa) {
		why = "the ISAKMP SA is gone"
	}
	switch req := ref.req.(type) {
	case *engine.AllocSPI:
		if ev.Kind != engine.EventSPIAllocated {
			return
		}
		r = &engine.Delete{Token: tok, SAs: []engine.SARef{{Protocol: req.Protocol, SPI: ev.SPI, Src: req.Src, Dst: req.Dst}}}
		d.log.Debug("SPI allocated after its exchange ended: released", zap.Stringer("event", ev), zap.String("reason", why))
	case *engine.Install:
		if ev.Kind != engine.EventInstalled || req.Bundle == nil {
			return
		}
		refs := req.Bundle.Refs()
		r = &engine.Delete{Token: tok, SAs: refs}
		d.log.Warn("IPsec SA bundle installed after its negotiation ended: removed", zap.Uint32("bundle", req.Bundle.ID),
			zap.Stringers("sas", refs), zap.String("reason", why), zap.Stringer("cookies", ref.sa.Cookies))
	case *engine.InstallPolicies:
		if ev.Kind != engine.EventPoliciesInstalled {
			return
		}
		r = &engine.RemovePolicies{Token: tok, Policies: req.Policies}
		d.log.Warn("kernel policies installed after their negotiation ended: removed", zap.Int("policies", len(req.Policies)),
			zap.String("reason", why), zap.Stringer("cookies", ref.sa.Cookies))
	default:
		d.log.Debug("engine event for an ended exchange", zap.Stringer("event", ev))
		return
	}
	d.tokens[tok] = tokenRef{}
	d.submit(r)
}
