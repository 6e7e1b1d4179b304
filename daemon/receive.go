package daemon

import (
	"crypto/sha256"
	"fmt"

	"github.com/iked/iked/isakmp"
)

// receive finds the SA and the exchange a checked packet belongs to and
// hands it over. It runs on the loop.
func (d *Daemon) receive(p *Packet) {
	if isFragment(p) {
		if whole := d.reassemble(p); whole != nil {
			d.receive(whole)
		}
		return
	}
	h := p.Header
	dg := Datagram{Remote: p.Remote}
	var sa *SA
	adopt := false // the responder's first answer to an SA we initiated
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
			// The responder's first answer to an SA we initiated: its
			// cookie is learnt once the exchange accepted the message
			// (adoptCookie), not before.
			if s, ok := d.byInit[h.InitiatorCookie]; ok && s.Cookies.R == ([8]byte{}) {
				switch {
				case h.MessageID == 0:
					sa, adopt = s, true
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

	if d.holdBehindPhase1(sa, p, dg) {
		return
	}
	run := sa.exchanges[h.MessageID]
	sum := sha256.Sum256(p.Data)
	if adopt && run == nil {
		d.drop(DropNoSA, dg, fmt.Errorf("an answer for SA %s, whose phase 1 exchange ended", sa.Cookies))
		return
	}
	if run != nil {
		if run.haveIn && run.lastIn == sum {
			// A retransmission of what we consumed: the peer lost our
			// answer. Send it again; compute nothing (RFC 2408, 5).
			switch {
			case run.busy:
				d.Counters.CountDrop(DropBusy)
			case run.lastOut != nil && run.answers:
				d.Counters.CachedReplies.Add(1)
				d.transmit(sa, run.lastOut)
			default:
				d.drop(DropReplay, dg, fmt.Errorf("a copy of %s message ID %#x, which we consumed and which has no answer", h.Exchange, h.MessageID))
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
		if adopt && d.alive(sa) {
			d.adoptCookie(sa, h.ResponderCookie)
		}
		run.lastIn, run.haveIn, run.answers = sum, true, false
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
	if sa.history.full() {
		// Its ID could not be remembered once finished (replay.go).
		d.drop(DropReplay, dg, fmt.Errorf("%s on an ISAKMP SA with no message IDs left", h.Exchange))
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
	run.lastIn, run.haveIn, run.answers = sum, true, false
	sa.addExchange(run)
	d.Counters.Accepted.Add(1)
	sa.LastHeard = d.clock.Now()
	d.carryOut(sa, run, res, true)
}

// adoptCookie files an SA we initiated under the responder cookie of the
// answer its exchange just accepted.
func (d *Daemon) adoptCookie(sa *SA, r [8]byte) {
	if d.sas[sa.Cookies] == sa {
		delete(d.sas, sa.Cookies)
	}
	sa.Cookies.R = r
	d.sas[sa.Cookies] = sa
}

// maxHeld bounds the messages held behind one SA's phase 1 (holdBehindPhase1).
const maxHeld = 4

// holdBehindPhase1 keeps a message that opens a new exchange on sa while
// sa's phase 1 exchange waits for the worker pool: an Aggressive Mode
// initiator sends its first Quick Mode right after AM3, and a gateway its
// XAUTH request right after MM6, both before the other side has verified
// the last phase 1 message. The SA handles its messages one at a time, as
// strongSwan's checked-out IKE SA does; releaseHeld receives them once the
// phase 1 result is in. It reports whether p was held (or dropped as busy,
// past maxHeld).
func (d *Daemon) holdBehindPhase1(sa *SA, p *Packet, dg Datagram) bool {
	if p.Header.MessageID == 0 || sa.Established {
		return false
	}
	p1 := sa.exchanges[0]
	if p1 == nil || !p1.busy || sa.exchanges[p.Header.MessageID] != nil {
		return false
	}
	if len(sa.held) >= maxHeld {
		d.drop(DropBusy, dg, fmt.Errorf("%s message ID %#x while phase 1 is computed", p.Header.Exchange, p.Header.MessageID))
		return true
	}
	sa.held = append(sa.held, p)
	return true
}

// releaseHeld receives what holdBehindPhase1 kept, once sa's phase 1 is no
// longer waiting for the worker pool.
func (d *Daemon) releaseHeld(sa *SA) {
	if len(sa.held) == 0 {
		return
	}
	if !d.alive(sa) {
		for _, p := range sa.held {
			d.drop(DropNoSA, Datagram{Remote: p.Remote}, fmt.Errorf("%s held while phase 1 was computed: the SA is gone", p.Header.Exchange))
		}
		sa.held = nil
		return
	}
	if p1 := sa.exchanges[0]; p1 != nil && p1.busy {
		return
	}
	held := sa.held
	sa.held = nil
	for _, p := range held {
		d.receive(p)
	}
}
