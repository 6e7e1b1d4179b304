package daemon

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

// errQueueFull is the error of a synthetic engine event for a request the
// engine queue dropped (messages 68-70 were logged by the queue).
var errQueueFull = errors.New("daemon: engine queue full, request dropped")

// reject counts a message an exchange refused and carries out what the
// refusal asks (a panic deletes an unauthenticated SA).
func (d *Daemon) reject(sa *SA, run *running, res Result, dg Datagram) {
	d.drop(DropRejected, dg, res.Reject)
	for _, m := range res.Log {
		d.log.Emit(m)
	}
	if res.DeleteSA {
		d.removeSA(sa, reasonOf(sa, res))
	}
}

// carryOut does what an exchange's Result asks. consumed says the result
// answers a message from the peer, which ends the retransmission of our
// outstanding request.
func (d *Daemon) carryOut(sa *SA, run *running, res Result, consumed bool) {
	for _, m := range res.Log {
		d.log.Emit(m, zap.Stringer("cookies", sa.Cookies))
	}
	newlyEstablished := false
	if res.Established && !sa.Established && !res.DeleteSA {
		newlyEstablished = true
		sa.Established = true
		d.index(sa)
		d.initiationDone(sa)
		if sa.halfOpen != nil {
			sa.halfOpen.Stop()
			sa.halfOpen = nil
		}
		if sa.first != nil {
			if d.firsts[*sa.first] == sa {
				delete(d.firsts, *sa.first)
			}
			d.leaveHalfOpen(sa, false)
		}
	}
	d.reindex(sa)
	if run != nil && (consumed || res.Send != nil || res.Done) {
		run.gen++
		if run.timer != nil {
			run.timer.Stop()
			run.timer = nil
		}
		run.request = false
	}
	for _, r := range res.Engine {
		d.submit(r)
	}
	var cheap func() any
	if res.Work != nil {
		if run == nil {
			d.log.Error("exchange asked for work without an exchange to resume", zap.Stringer("cookies", sa.Cookies))
		} else if res.Cheap && d.cheapDepth < maxCheapDepth {
			cheap = res.Work
			run.busy = true
			sa.jobs++
		} else if !d.startWork(sa, run, res.Work) {
			d.Counters.CountDrop(DropPoolFull)
			d.armRefusals()
			d.log.Debug("worker pool full: exchange dropped", zap.Stringer("cookies", sa.Cookies))
			d.endExchange(sa, run)
			d.flushBegun()
			return
		}
	}
	if res.IO != nil {
		if run == nil {
			d.log.Error("exchange asked for an I/O job without an exchange to resume", zap.Stringer("cookies", sa.Cookies))
		} else {
			d.startIO(sa, run, res.IO)
		}
	}
	if res.Send != nil {
		if run != nil {
			run.lastOut = res.Send
			run.request = res.Request
			run.answers = run.haveIn
		}
		d.transmit(sa, res.Send)
		if run != nil && res.Request {
			run.tries = 0
			run.timeout = d.settings.RetransmitBase
			d.armRetransmit(sa, run)
		}
	}
	for _, m := range res.Also {
		d.transmit(sa, m)
	}
	if res.Raw != nil {
		d.transmitRaw(sa, res.Raw)
	}
	if run != nil && res.Done && !run.done {
		run.done = true
		// What answers a retransmission from now on is the cache
		// (lastIn, lastOut); the exchange itself, with the messages it
		// decoded, goes now rather than with the cache.
		run.ex = nil
		r := run
		run.doneTimer = d.timers.after(d.settings.ReplyCacheTime, func() {
			r.doneTimer = nil
			if sa.exchanges[r.id] == r && r.done {
				sa.dropExchange(r.id)
				d.remember(sa, finishedID{id: r.id, sum: r.lastIn})
			}
		})
	}
	if res.DeleteSA {
		d.removeSA(sa, reasonOf(sa, res))
	} else if newlyEstablished {
		d.metrics.observePhase1(d.clock.Now().Sub(sa.Created))
		d.established(sa)
	}
	d.flushBegun()
	if cheap != nil {
		// As a worker would, only without leaving the loop: the
		// exchange resumes after everything above, as it would have.
		v := runWork(cheap)
		d.Counters.WorkDone.Add(1)
		d.cheapDepth++
		d.resume(sa, run, v)
		d.cheapDepth--
	}
}

// maxCheapDepth bounds the cheap steps run one inside the other (a
// step's Result asks for cheap work, whose Resume asks for more): an
// exchange has two or three in a row at most; past the bound the work
// goes to the pool, so that an exchange that kept asking could not
// overflow the loop's stack.
const maxCheapDepth = 8

// flushBegun inserts the exchanges that Context.Begin started during the
// call just carried out, and does their first Result.
func (d *Daemon) flushBegun() {
	for len(d.pendingInit) > 0 {
		conn := d.pendingInit[0]
		d.pendingInit = d.pendingInit[1:]
		if err := d.initiate(conn); err != nil {
			d.log.Warn("cannot initiate connection", zap.String("conn", conn), zap.Error(err))
		}
	}
	for len(d.begun) > 0 {
		b := d.begun[0]
		d.begun = d.begun[1:]
		if !d.alive(b.sa) {
			continue
		}
		if old := b.sa.exchanges[b.run.id]; old != nil {
			old.stopTimers()
		}
		b.sa.addExchange(b.run)
		d.carryOut(b.sa, b.run, b.res, false)
	}
}

// alive reports whether sa is still in the tables.
func (d *Daemon) alive(sa *SA) bool {
	if sa == nil {
		return false
	}
	return d.sas[sa.Cookies] == sa || d.byInit[sa.Cookies.I] == sa
}

// endExchange forgets one exchange; a phase 1 exchange that ends before its
// SA is authenticated takes the SA with it.
func (d *Daemon) endExchange(sa *SA, run *running) {
	run.stopTimers()
	if sa.exchanges[run.id] == run {
		sa.dropExchange(run.id)
	}
	if run.id == 0 && !sa.Established {
		d.removeSA(sa, RemoveFailed)
	}
}

func (d *Daemon) startWork(sa *SA, run *running, w func() any) bool {
	pr, limit := priorityHigh, highQueue
	if sa.Role == RoleResponder && !sa.Established && run.id == 0 && sa.jobs == 0 {
		// The first job of a responder SA (AM1, MM3): its peer has
		// not yet answered anything computed for it (pool.go).
		pr, limit = priorityLow, max(d.settings.HalfOpenMax, highQueue)
	}
	src := sa.source
	if !src.IsValid() {
		src = sa.Remote.Addr()
	}
	ok := d.pool.submit(pr, src, limit, job{work: w, d: d, sa: sa, run: run})
	if ok {
		run.busy = true
		sa.jobs++
	}
	return ok
}

// startIO hands an exchange's blocking job to the I/O pool. A full pool
// refuses it: counted, logged, and the exchange resumed with ErrIOFull
// (an XAUTH login then fails with that reason) rather than dropped, since
// the message that asked for the job was consumed.
func (d *Daemon) startIO(sa *SA, run *running, f func(context.Context) any) {
	run.busy = true
	ok := d.io.submit(func(ctx context.Context) {
		v := runIO(ctx, f)
		d.Counters.IODone.Add(1)
		d.postEvent(event{sa: sa, run: run, v: v})
	})
	if ok {
		return
	}
	d.Counters.IORefused.Add(1)
	d.log.Warn("I/O job refused: every I/O goroutine is busy and the queue is full",
		zap.Stringer("cookies", sa.Cookies), zap.String("peer", sa.Remote.String()),
		zap.Int("io-workers", d.opt.IOWorkers), zap.Int("io-queue", d.opt.IOQueue))
	// Not posted from here: the loop must not wait on its own queue.
	d.clock.AfterFunc(0, func() { d.post(func() { d.resume(sa, run, ErrIOFull) }) })
}

// resume hands a work result or an engine event back to its exchange.
func (d *Daemon) resume(sa *SA, run *running, v any) {
	if !d.alive(sa) || sa.exchanges[run.id] != run || run.ex == nil {
		return // the exchange ended meanwhile
	}
	if _, isWork := v.(engine.Event); !isWork {
		run.busy = false
	}
	if run.id == 0 {
		defer d.releaseHeld(sa)
	}
	res := d.safeCall(sa, run, func(c *Context) Result { return run.ex.Resume(c, v) })
	if res.Reject != nil {
		d.log.Debug("exchange refused a result", zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
		if res.DeleteSA {
			d.removeSA(sa, reasonOf(sa, res))
		}
		return
	}
	d.carryOut(sa, run, res, false)
}

// maxFreeContexts bounds the Contexts safeCall keeps for reuse: as many as
// calls nest, a handful.
const maxFreeContexts = 8

// exchangeOf reads the exchange type from an encoded message (RFC 2408, 3.1).
func exchangeOf(msg []byte) isakmp.ExchangeType {
	if len(msg) < isakmp.HeaderLen {
		return isakmp.ExchangeNone
	}
	return isakmp.ExchangeType(msg[18])
}

// safeCall runs one call into an exchange with a Context, recovering a
// panic into a rejection so that a bug in one exchange cannot stop the
// daemon.
//
// The Context comes from d.contexts and goes back there when the call
// returns: a Context is valid only during its call (handler.go), and no
// exchange, watcher or timer keeps one after it (they keep c.SA, tokens
// and their own state; Work and IO closures capture none), so one is
// reused rather than made for each of the some fifty calls of an SA pair.
// Calls nest (a watcher's SARemoved runs inside the call that removed the
// SA), so each call takes its own; only the loop calls, one at a time.
func (d *Daemon) safeCall(sa *SA, run *running, f func(c *Context) Result) (res Result) {
	var c *Context
	if n := len(d.contexts); n > 0 {
		c = d.contexts[n-1]
		d.contexts[n-1] = nil
		d.contexts = d.contexts[:n-1]
	} else {
		c = new(Context)
	}
	*c = Context{Now: d.clock.Now(), Rand: d.rand, Log: d.log, SA: sa, d: d, run: run}
	if d.policy != nil {
		c.Policy = d.policy.Policy
	}
	defer func() {
		// Cleared, so that a kept Context would not keep an SA alive
		// nor act on one.
		*c = Context{}
		if len(d.contexts) < maxFreeContexts {
			d.contexts = append(d.contexts, c)
		}
		if r := recover(); r != nil {
			d.Counters.CountDrop(DropPanic)
			d.log.Error("recovered from a panic in an exchange", zap.String("panic", fmt.Sprint(r)),
				zap.Stringer("cookies", sa.Cookies))
			res = Result{Reject: fmt.Errorf("panic: %v", r), DeleteSA: !sa.Established}
		}
	}()
	return f(c)
}
