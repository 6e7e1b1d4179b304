package daemon

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// receive finds the SA and the exchange a checked packet belongs to and
// hands it over. It runs on the loop.
func (d *Daemon) receive(p *Packet) {
	h := p.Header
	dg := Datagram{Remote: p.Remote}
	var sa *SA
	if h.ResponderCookie == ([8]byte{}) {
		fk := firstKey{I: h.InitiatorCookie, Remote: p.Remote}
		if s, ok := d.firsts[fk]; ok {
			sa = s
		} else {
			if h.MessageID != 0 || (h.Exchange != isakmp.ExchangeMain && h.Exchange != isakmp.ExchangeAggressive) {
				d.drop(DropNotFirst, dg, fmt.Errorf("%s message ID %#x with no responder cookie", h.Exchange, h.MessageID))
				return
			}
			if _, ours := d.byInit[h.InitiatorCookie]; ours {
				d.drop(DropNotFirst, dg, fmt.Errorf("first message with a cookie of ours"))
				return
			}
			sa = d.newResponderSA(p, fk)
			if sa == nil {
				return
			}
		}
	} else {
		sa = d.sas[Cookies{h.InitiatorCookie, h.ResponderCookie}]
		if sa == nil {
			// The responder's first answer to an SA we initiated: learn its cookie.
			if s, ok := d.byInit[h.InitiatorCookie]; ok && s.Cookies.R == ([8]byte{}) {
				switch {
				case h.MessageID == 0:
					delete(d.sas, s.Cookies)
					s.Cookies.R = h.ResponderCookie
					d.sas[s.Cookies] = s
					sa = s
				case h.Exchange == isakmp.ExchangeInformational:
					// The responder refused our first message with a
					// notify (NO-PROPOSAL-CHOSEN...): it names its own
					// cookie, which we do not adopt.
					sa = s
				}
			}
		}
		if sa == nil {
			d.drop(DropNoSA, dg, fmt.Errorf("cookies %s", Cookies{h.InitiatorCookie, h.ResponderCookie}))
			return
		}
	}

	run := sa.exchanges[h.MessageID]
	sum := sha256.Sum256(p.Data)
	if run != nil {
		if run.haveIn && run.lastIn == sum {
			// A retransmission of what we consumed: the peer lost our
			// answer. Send it again; compute nothing (RFC 2408, 5).
			if run.lastOut != nil && !run.busy {
				d.Counters.CachedReplies.Add(1)
				d.transmit(sa, run.lastOut)
			} else {
				d.Counters.CountDrop(DropBusy)
			}
			return
		}
		if run.busy {
			d.drop(DropBusy, dg, nil)
			return
		}
		if run.done {
			d.drop(DropRejected, dg, fmt.Errorf("exchange %#x is finished", h.MessageID))
			return
		}
		res := d.safeCall(sa, run, func(c *Context) Result { return run.ex.Consume(c, p) })
		if res.Reject != nil {
			d.reject(sa, run, res, dg)
			return
		}
		run.lastIn, run.haveIn = sum, true
		d.Counters.Accepted.Add(1)
		sa.LastHeard = d.clock.Now()
		d.carryOut(sa, run, res, true)
		return
	}

	if f, seen := sa.history.lookup(h.MessageID); seen {
		if f.sum == sum && f.reply != nil {
			// An identical copy of an informational we answered (a
			// retransmitted R-U-THERE): answer again, act on nothing.
			d.Counters.CachedReplies.Add(1)
			d.transmit(sa, f.reply)
			return
		}
		d.drop(DropReplay, dg, fmt.Errorf("%s with the message ID %#x of a finished exchange", h.Exchange, h.MessageID))
		return
	}

	hd := d.handlers[h.Exchange]
	if hd == nil {
		d.drop(DropNoHandler, dg, fmt.Errorf("exchange %s", h.Exchange))
		if len(sa.exchanges) == 0 && !sa.Established {
			d.removeSA(sa, RemoveFailed)
		}
		return
	}
	if h.MessageID == 0 && sa.Established {
		// Phase 1 is over; message ID 0 is not a new exchange on it.
		d.drop(DropRejected, dg, fmt.Errorf("%s with message ID 0 on an established SA", h.Exchange))
		return
	}
	run = &running{id: h.MessageID, typ: h.Exchange}
	res := d.safeCall(sa, run, func(c *Context) Result {
		var r Result
		run.ex, r = hd.Start(c, p)
		return r
	})
	if res.Reject != nil || run.ex == nil {
		if res.Reject != nil {
			d.reject(sa, nil, res, dg)
		} else {
			d.Counters.Accepted.Add(1)
			if sa.Established {
				sa.LastHeard = d.clock.Now()
				// An informational starts and ends here: its ID may
				// not be acted on again (replay.go).
				d.remember(sa, finishedID{id: h.MessageID, sum: sum, reply: res.Send})
			}
			d.carryOut(sa, nil, res, true)
		}
		if d.sas[sa.Cookies] == sa && len(sa.exchanges) == 0 && !sa.Established {
			d.removeSA(sa, RemoveFailed)
		}
		return
	}
	run.lastIn, run.haveIn = sum, true
	sa.exchanges[h.MessageID] = run
	d.Counters.Accepted.Add(1)
	sa.LastHeard = d.clock.Now()
	d.carryOut(sa, run, res, true)
}

// newResponderSA admits a first message: policy loaded, the source's rate,
// the half-open limit; then a fresh responder cookie.
func (d *Daemon) newResponderSA(p *Packet, fk firstKey) *SA {
	dg := Datagram{Remote: p.Remote}
	if d.policy == nil {
		d.log.Emit(notify.NoPolicyLoaded())
		d.drop(DropNoPolicy, dg, nil)
		return nil
	}
	if d.handlers[p.Header.Exchange] == nil {
		d.drop(DropNoHandler, dg, fmt.Errorf("exchange %s", p.Header.Exchange))
		return nil
	}
	if !d.limit.allow(p.Remote.Addr(), d.clock.Now()) {
		d.drop(DropRateLimit, dg, nil)
		return nil
	}
	if d.halfOpen >= d.settings.HalfOpenMax {
		d.drop(DropHalfOpen, dg, nil)
		return nil
	}
	var r [8]byte
	for r == ([8]byte{}) {
		if _, err := io.ReadFull(d.rand, r[:]); err != nil {
			d.log.Error("random source failed", zap.Error(err))
			return nil
		}
		if _, used := d.sas[Cookies{fk.I, r}]; used {
			r = [8]byte{}
		}
	}
	sa := &SA{
		Cookies:   Cookies{I: fk.I, R: r},
		Role:      RoleResponder,
		Local:     p.Local,
		Remote:    p.Remote,
		Created:   d.clock.Now(),
		exchanges: map[uint32]*running{},
		first:     &fk,
	}
	d.sas[sa.Cookies] = sa
	d.firsts[fk] = sa
	d.halfOpen++
	d.armHalfOpen(sa)
	return sa
}

// armHalfOpen removes a responder SA that is still not authenticated after
// HalfOpenLifetime, so that spoofed first messages cannot fill the table.
func (d *Daemon) armHalfOpen(sa *SA) {
	sa.halfOpen = d.clock.AfterFunc(d.settings.HalfOpenLifetime, func() {
		d.post(func() {
			if d.sas[sa.Cookies] == sa && !sa.Established {
				d.Counters.HalfOpenExpiry.Add(1)
				d.log.Debug("half-open ISAKMP SA expired", zap.Stringer("cookies", sa.Cookies), zap.Stringer("peer", sa.Remote))
				d.removeSA(sa, RemoveHalfOpen)
			}
		})
	})
}

// removeSA forgets an SA, stops its exchanges' and its own timers, and
// tells the watchers why it went (once: a second call finds it gone).
func (d *Daemon) removeSA(sa *SA, why RemoveReason) {
	wasThere := d.alive(sa)
	for _, run := range sa.exchanges {
		run.stopTimers()
	}
	sa.exchanges = map[uint32]*running{}
	sa.stopTimers()
	if sa.halfOpen != nil {
		sa.halfOpen.Stop()
		sa.halfOpen = nil
	}
	if d.sas[sa.Cookies] == sa {
		delete(d.sas, sa.Cookies)
	}
	if sa.Role == RoleInitiator && d.byInit[sa.Cookies.I] == sa {
		delete(d.byInit, sa.Cookies.I)
	}
	if sa.first != nil && d.firsts[*sa.first] == sa {
		delete(d.firsts, *sa.first)
	}
	if sa.Role == RoleResponder && !sa.Established && sa.first != nil {
		d.halfOpen--
		sa.first = nil
	}
	for tok, ref := range d.tokens {
		if ref.sa == sa {
			delete(d.tokens, tok)
		}
	}
	if wasThere && !sa.removed {
		sa.removed = true
		if why < numRemoveReasons {
			d.Counters.SARemoved[why].Add(1)
		}
		if sa.Established && why != RemoveShutdown {
			// Shutdown counts its SAs in one line (Stop); a failed or
			// half-open negotiation has its message 46.
			d.log.Info("ISAKMP SA removed", zap.Stringer("reason", why), zap.String("conn", sa.Conn),
				zap.Stringer("role", sa.Role), zap.Stringer("local", sa.Local), zap.Stringer("peer", sa.Remote),
				zap.Stringer("cookies", sa.Cookies), notify.EventField(notify.EventSADown))
		}
		d.removed(sa, why)
	}
}

// safeCall runs one call into an exchange with a Context, recovering a
// panic into a rejection so that a bug in one exchange cannot stop the
// daemon.
func (d *Daemon) safeCall(sa *SA, run *running, f func(c *Context) Result) (res Result) {
	c := &Context{Now: d.clock.Now(), Rand: d.rand, Log: d.log, SA: sa, d: d, run: run}
	if d.policy != nil {
		c.Policy = d.policy.Policy
	}
	defer func() {
		if r := recover(); r != nil {
			d.Counters.CountDrop(DropPanic)
			d.log.Error("recovered from a panic in an exchange", zap.String("panic", fmt.Sprint(r)),
				zap.Stringer("cookies", sa.Cookies))
			res = Result{Reject: fmt.Errorf("panic: %v", r), DeleteSA: !sa.Established}
		}
	}()
	return f(c)
}

func (d *Daemon) newMessageID(sa *SA) uint32 {
	var b [4]byte
	for {
		if _, err := io.ReadFull(d.rand, b[:]); err != nil {
			panic("daemon: random source failed: " + err.Error())
		}
		id := binary.BigEndian.Uint32(b[:])
		_, used := sa.exchanges[id]
		if _, seen := sa.history.lookup(id); id != 0 && !used && !seen {
			return id
		}
	}
}
