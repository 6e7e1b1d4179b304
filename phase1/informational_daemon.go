package phase1

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// InfoHandler plugs informational exchanges into the daemon: it is the
// daemon.Handler of exchange type 5 (every informational message starts
// and ends an exchange: RFC 2408, 4.8 expects no answer, except DPD's
// R-U-THERE-ACK, RFC 3706, 5.1), the daemon.Deleter that says goodbye with
// a Delete payload, and it keeps the DPD state of each ISAKMP SA.
// stack.Build puts it at the end of the chain of informational handlers
// and behind quickmode's Deleter. As a daemon.Watcher (informational_life.go) it arms the per-SA timers
// that run DPD, NAT keepalives and the lifetime. All methods run on the
// daemon's loop goroutine, so it needs no lock.
type InfoHandler struct {
	DPD DPDConfig
	// KeepaliveInterval is the NAT keepalive interval when we are behind
	// a NAT (zero: DefaultKeepaliveInterval, strongSwan's 20 s; negative:
	// none).
	KeepaliveInterval time.Duration
	// OnInitialContact, if set, is called when the peer of c.SA sent
	// INITIAL-CONTACT (in phase 1 or in an informational), after
	// ClearStale removed the peer's other SAs (and, through the daemon's
	// watchers, their IPsec SAs).
	OnInitialContact func(c *daemon.Context, s *SA)
	// OnDelete, if set, is called with the SAs the peer asked to delete
	// other than this ISAKMP SA (IPsec SAs by SPI, other ISAKMP SAs by
	// cookies); Quick Mode's records know which kernel SAs they are.
	OnDelete func(c *daemon.Context, refs []SARef)
	// dpd is the DPD state per ISAKMP SA, keyed by the daemon's SA; an
	// entry goes when its SA is deleted through this handler or Forget.
	dpd map[*daemon.SA]*DPD
	// keepalives are the NAT keepalive schedules of the SAs behind a NAT.
	keepalives map[*daemon.SA]*Keepalive
	// reauth are the SAs being reauthenticated (reauth.go), with when it
	// began; an entry goes when the new SA is established, when our new
	// negotiation fails, or with the old SA.
	reauth map[*daemon.SA]time.Time
}

// NewInfoHandler returns a handler with the policy's daemon.dpd (zero
// delay: DPD off, R-U-THERE from the peer is still answered).
func NewInfoHandler(cfg DPDConfig) *InfoHandler {
	return &InfoHandler{DPD: cfg, dpd: map[*daemon.SA]*DPD{}, keepalives: map[*daemon.SA]*Keepalive{}}
}

// msgID returns a fresh random message ID for an informational we start.
// It is drawn from c.Rand (isakmp.NewMessageID) without the daemon's
// table (Context.NewMessageID): an informational ends when sent, and an
// answer (R-U-THERE-ACK) comes with its own ID.
func msgID(c *daemon.Context) (uint32, error) { return isakmp.NewMessageID(c.Rand, nil) }

// sealInfo seals ps on k with a fresh message ID.
func sealInfo(c *daemon.Context, k InfoKeys, ps ...isakmp.Payload) ([]byte, error) {
	id, err := msgID(c)
	if err != nil {
		return nil, err
	}
	return SealInformational(k, id, ps)
}

// phase1SA returns the established phase 1 SA behind a daemon SA.
func phase1SA(c *daemon.Context) (*SA, error) {
	if c.SA == nil {
		return nil, fmt.Errorf("phase1: informational without an ISAKMP SA")
	}
	s := StateOf(c.SA)
	if s == nil {
		return nil, fmt.Errorf("phase1: informational on an SA without phase 1 state")
	}
	return s, nil
}

// Start handles one informational message (a new message ID on a known
// SA). Protected ones are opened with the SA's keys and checked; before
// the keys exist only a clear one is read, and only its error notifies end
// the (half-open) SA. A message ID this SA already accepted never comes
// here: the daemon drops it (daemon.MessageIDHistory), so a replayed
// INITIAL-CONTACT, Delete or R-U-THERE is not acted on twice.
func (h *InfoHandler) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	s, err := phase1SA(c)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	k, keyed := s.InfoKeys()
	var inf *Informational
	if keyed {
		inf, err = OpenInformational(p.Data, &k)
	} else {
		inf, err = OpenInformational(p.Data, nil)
	}
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	o := ReceiveInformational(inf, s.ICookie, s.RCookie, p.Remote)
	r := daemon.Result{Log: o.Log, DeleteSA: o.DeleteISAKMP}
	if o.DeleteISAKMP && s.State != StateEstablished && s.State != StateDeleted {
		r.Log = append(r.Log, refusedLog(s, inf))
	}
	if !inf.Protected {
		if o.DeleteISAKMP {
			s.Wipe()
		}
		return nil, r
	}
	d := h.dpd[c.SA]
	if d != nil {
		d.Alive(c.Now)
	}
	if o.RUThereAck && d != nil && !d.Ack(c.Now, o.AckSeq) && c.Log != nil {
		c.Log.Debug("phase1: unexpected R-U-THERE-ACK", zap.Uint32("seq", o.AckSeq))
	}
	if o.RUThere && (d == nil || !d.RUThere(c.Now, o.RUThereSeq)) {
		out, err := sealInfo(c, k, k.DPDNotify(true, o.RUThereSeq))
		if err == nil {
			r.Send = out
		}
	}
	if o.InitialContact {
		h.ClearStale(c, s)
		if h.OnInitialContact != nil {
			h.OnInitialContact(c, s)
		}
	}
	if len(o.Delete) > 0 && h.OnDelete != nil {
		h.OnDelete(c, o.Delete)
	}
	if o.DeleteISAKMP {
		delete(h.dpd, c.SA)
		s.Wipe()
	}
	return nil, r
}

// Established starts DPD on a newly established SA when both ends want it
// (RFC 3706, 4). INITIAL-CONTACT is not sent here: it travels inside phase
// 1 (Exchange.initialContact), where strongSwan acts on it.
func (h *InfoHandler) Established(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	if DPDEnabled(s, h.DPD) {
		if d, err := NewDPD(h.DPD, c.Now, c.Rand); err == nil {
			if h.dpd == nil {
				h.dpd = map[*daemon.SA]*DPD{}
			}
			h.dpd[c.SA] = d
		}
	}
	return daemon.Result{}
}

// DPDNext returns when DPDTick is due for sa (zero: no DPD on it).
func (h *InfoHandler) DPDNext(sa *daemon.SA) time.Time {
	if d := h.dpd[sa]; d != nil {
		return d.Next()
	}
	return time.Time{}
}

// DPDTick runs the SA's DPD at c.Now: it may send an R-U-THERE (a fresh
// message ID each, not retransmitted by the loop: DPD repeats probes
// itself) or delete the SA whose peer is dead.
func (h *InfoHandler) DPDTick(c *daemon.Context) daemon.Result {
	d := h.dpd[c.SA]
	s, err := phase1SA(c)
	if d == nil || err != nil {
		return daemon.Result{}
	}
	switch a, seq := d.Tick(c.Now); a {
	case DPDSend:
		k, ok := s.InfoKeys()
		if !ok {
			return daemon.Result{}
		}
		out, err := sealInfo(c, k, k.DPDNotify(false, seq))
		if err != nil {
			return daemon.Result{Reject: err}
		}
		return daemon.Result{Send: out}
	case DPDDeclareDead:
		delete(h.dpd, c.SA)
		if c.Log != nil {
			c.Log.Info(fmt.Sprintf("phase1: peer %s did not answer DPD for %v: deleting its SAs",
				s.Remote.Addr().Unmap(), h.DPD.Timeout))
		}
		s.Wipe()
		return daemon.Result{DeleteSA: true}
	}
	return daemon.Result{}
}

// Forget drops the DPD state of an SA the daemon deleted by other means.
func (h *InfoHandler) Forget(sa *daemon.SA) { delete(h.dpd, sa) }

// Delete says goodbye for an established ISAKMP SA (daemon.Deleter): a
// protected informational with the Delete payload of the ISAKMP SA (RFC
// 2408, 3.15), logged by LogDelete (an ordinary end, not message 52). The
// IPsec SAs' Delete payloads are Quick Mode's to send (it knows their
// SPIs).
func (h *InfoHandler) Delete(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	delete(h.dpd, c.SA)
	k, ok := s.InfoKeys()
	if !ok {
		return daemon.Result{}
	}
	del := k.DeleteISAKMP()
	out, err := sealInfo(c, k, del)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	LogDelete(c.Log, s.Remote, []isakmp.Payload{del})
	return daemon.Result{Send: out}
}

// refusedLog is message 46 for a phase 1 negotiation that the peer ended
// with an error notify (NO-PROPOSAL-CHOSEN to our MM1, INVALID-ID-
// INFORMATION to our MM5...): the exchange itself never sees that
// informational, so this is where the negotiation is logged as failed,
// naming the notify.
func refusedLog(s *SA, inf *Informational) notify.Message {
	reason := "the peer refused the negotiation"
	for _, n := range inf.Notifies {
		if n.NotifyType.IsError() {
			reason = n.NotifyType.String() + " from the peer"
			break
		}
	}
	s.FailReason = reason
	local, remote := s.LocalIDText, s.RemoteIDText
	if local == "" {
		local = s.Local.Addr().Unmap().String()
	}
	if remote == "" {
		remote = s.Remote.Addr().Unmap().String()
	}
	return notify.Phase1Failed(s.Role.String(), local, remote, reason)
}
