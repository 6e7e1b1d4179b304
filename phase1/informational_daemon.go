package phase1

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// InfoHandler is the daemon.Handler of informational exchanges (exchange
// type 5): every informational message starts and ends an exchange (RFC
// 2408, 4.8 expects no answer, except DPD's R-U-THERE-ACK, RFC 3706, 5.1).
// stack.Build puts it at the end of the chain of informational handlers.
// What the peer says feeds the SA's Life (DPD, INITIAL-CONTACT); the SAs
// its Deletes name go to OnDelete. All methods run on the daemon's loop
// goroutine, so it needs no lock.
type InfoHandler struct {
	// Life keeps the SAs' DPD state and acts on INITIAL-CONTACT.
	Life *Life
	// OnDelete, if set, is called with the SAs the peer asked to delete
	// other than this ISAKMP SA (IPsec SAs by SPI, other ISAKMP SAs by
	// cookies); Quick Mode's records know which kernel SAs they are.
	OnDelete func(c *daemon.Context, refs []SARef)
}

// NewInfoHandler returns the informational handler of the SAs whose life
// l runs.
func NewInfoHandler(l *Life) *InfoHandler { return &InfoHandler{Life: l} }

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
// here: the daemon drops it (daemon/replay.go, for the SA's life), so a replayed
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
	d := h.Life.dpd[c.SA]
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
		h.Life.initialContact(c, s)
	}
	if len(o.Delete) > 0 && h.OnDelete != nil {
		h.OnDelete(c, o.Delete)
	}
	if o.DeleteISAKMP {
		h.Life.Forget(c.SA)
		s.Wipe()
	}
	return nil, r
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
