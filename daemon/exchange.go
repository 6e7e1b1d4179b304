package daemon

import (
	"errors"
	"net/netip"
	"sync/atomic"

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
		if sa.halfOpen != nil {
			sa.halfOpen.Stop()
			sa.halfOpen = nil
		}
		if sa.first != nil {
			if d.firsts[*sa.first] == sa {
				delete(d.firsts, *sa.first)
			}
			sa.first = nil
			d.halfOpen--
		}
	}
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
	if res.Work != nil {
		if run == nil {
			d.log.Error("exchange asked for work without an exchange to resume", zap.Stringer("cookies", sa.Cookies))
		} else if !d.startWork(sa, run, res.Work) {
			d.Counters.CountDrop(DropPoolFull)
			d.log.Debug("worker pool full: exchange dropped", zap.Stringer("cookies", sa.Cookies))
			d.endExchange(sa, run)
			d.flushBegun()
			return
		}
	}
	if res.Send != nil {
		if run != nil {
			run.lastOut = res.Send
			run.request = res.Request
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
		r := run
		run.doneTimer = d.clock.AfterFunc(d.settings.ReplyCacheTime, func() {
			d.post(func() {
				if sa.exchanges[r.id] == r && r.done {
					delete(sa.exchanges, r.id)
					d.remember(sa, finishedID{id: r.id, sum: r.lastIn})
				}
			})
		})
	}
	if res.DeleteSA {
		d.removeSA(sa, reasonOf(sa, res))
	} else if newlyEstablished {
		d.established(sa)
	}
	d.flushBegun()
}

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
		b.sa.exchanges[b.run.id] = b.run
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
		delete(sa.exchanges, run.id)
	}
	if run.id == 0 && !sa.Established {
		d.removeSA(sa, RemoveFailed)
	}
}

func (d *Daemon) startWork(sa *SA, run *running, w func() any) bool {
	ok := d.pool.submit(func() {
		v := runWork(w)
		d.Counters.WorkDone.Add(1)
		d.post(func() { d.resume(sa, run, v) })
	})
	if ok {
		run.busy = true
	}
	return ok
}

// resume hands a work result or an engine event back to its exchange.
func (d *Daemon) resume(sa *SA, run *running, v any) {
	if !d.alive(sa) || sa.exchanges[run.id] != run {
		return // the exchange ended meanwhile
	}
	if _, isWork := v.(engine.Event); !isWork {
		run.busy = false
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

// armRetransmit schedules the next retransmission of run's request.
func (d *Daemon) armRetransmit(sa *SA, run *running) {
	run.gen++
	gen := run.gen
	if run.timer != nil {
		run.timer.Stop()
	}
	run.timer = d.clock.AfterFunc(run.timeout, func() {
		d.post(func() { d.retransmit(sa, run, gen) })
	})
}

// retransmit sends the request again with a doubled timeout, or gives up
// after RetransmitTries (RFC 2408, 5: the exchange then fails).
func (d *Daemon) retransmit(sa *SA, run *running, gen uint64) {
	if run.gen != gen || !run.request || !d.alive(sa) || sa.exchanges[run.id] != run {
		return
	}
	if run.tries < d.settings.RetransmitTries {
		run.tries++
		d.Counters.Retransmits.Add(1)
		d.transmit(sa, run.lastOut)
		run.timeout *= 2
		d.armRetransmit(sa, run)
		return
	}
	d.Counters.GaveUp.Add(1)
	d.log.Warn("no answer from the peer: giving up the exchange",
		zap.Stringer("peer", sa.Remote), zap.Stringer("cookies", sa.Cookies),
		zap.Stringer("exchange", run.typ), zap.Uint32("message-id", run.id),
		zap.Int("sends", run.tries+1))
	run.request = false
	res := d.safeCall(sa, run, func(c *Context) Result { return run.ex.TimedOut(c) })
	if res.Reject == nil {
		res.Send, res.Request, res.Work = nil, false, nil
		d.carryOut(sa, run, res, false)
	}
	if d.alive(sa) {
		d.endExchange(sa, run)
	}
}

// transmit sends one IKE message on the SA's addresses, with the non-ESP
// marker when they are on the NAT-T port (RFC 3948, 2.2).
func (d *Daemon) transmit(sa *SA, msg []byte) {
	bc := d.pickConn(sa.Local, sa.Remote)
	if bc == nil {
		d.Counters.SendErrors.Add(1)
		d.log.Debug("no socket to send from", zap.Stringer("local", sa.Local), zap.Stringer("remote", sa.Remote))
		return
	}
	data := msg
	if bc.natt {
		data = frameNATT(msg)
	}
	if err := bc.pc.WriteDatagram(Datagram{Data: data, Local: sa.Local, Remote: sa.Remote}); err != nil {
		d.Counters.SendErrors.Add(1)
		d.log.Debug("send failed", zap.Stringer("to", sa.Remote), zap.Error(err))
		return
	}
	d.Counters.Sent.Add(1)
	sa.LastSent = d.clock.Now()
}

// transmitRaw sends a datagram as it is on the SA's addresses: a NAT
// keepalive, which carries no non-ESP marker (RFC 3948, 2.3).
func (d *Daemon) transmitRaw(sa *SA, data []byte) {
	bc := d.pickConn(sa.Local, sa.Remote)
	if bc == nil {
		d.Counters.SendErrors.Add(1)
		return
	}
	if err := bc.pc.WriteDatagram(Datagram{Data: data, Local: sa.Local, Remote: sa.Remote}); err != nil {
		d.Counters.SendErrors.Add(1)
		d.log.Debug("send failed", zap.Stringer("to", sa.Remote), zap.Error(err))
		return
	}
	if len(data) == 1 && data[0] == natKeepalive {
		d.Counters.KeepalivesSent.Add(1)
	} else {
		d.Counters.Sent.Add(1)
	}
	sa.LastSent = d.clock.Now()
}

// pickConn finds the socket for local (its port; its address if a socket is
// bound to it, else the wildcard one) in remote's family.
func (d *Daemon) pickConn(local, remote netip.AddrPort) *boundConn {
	port := local.Port()
	if port == 0 {
		port = d.settings.IKEPort
	}
	v4 := remote.Addr().Unmap().Is4()
	var wild *boundConn
	for _, bc := range d.conns {
		b := bc.pc.LocalAddr()
		if b.Port() != port || b.Addr().Unmap().Is4() != v4 {
			continue
		}
		if b.Addr() == local.Addr() {
			return bc
		}
		if b.Addr().IsUnspecified() && wild == nil {
			wild = bc
		}
	}
	return wild
}

var tokenCounter atomic.Uint64

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
			if ev.Err != nil {
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

// exchangeOf reads the exchange type from an encoded message (RFC 2408, 3.1).
func exchangeOf(msg []byte) isakmp.ExchangeType {
	if len(msg) < isakmp.HeaderLen {
		return isakmp.ExchangeNone
	}
	return isakmp.ExchangeType(msg[18])
}
