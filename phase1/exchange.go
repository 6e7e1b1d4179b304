package phase1

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Env is what the caller's loop lends an exchange for one call: the clock
// and the random source (cookies are chosen by the caller; nonces and DH
// keys here). Rand is also used from Work closures, on other goroutines, so
// it must be safe for concurrent use (crypto/rand.Reader is). Log, if set,
// receives key material at its keys level only; catalog messages are
// returned in daemon.Result.Log, never logged here.
type Env struct {
	Now  time.Time
	Rand io.Reader
	Log  *notify.Logger
}

// Hooks connect phase 1 to vendor ID and NAT-T handling, which live in
// their own files (vendorid*.go, natt*.go). A nil hook does the minimum:
// no Vendor ID sent, received ones recorded in SA.VendorIDs, no NAT-D.
type Hooks struct {
	// VendorIDs returns the Vendor ID payload data to send in our first
	// message (MM1/MM2, AM1/AM2).
	VendorIDs func(s *SA) [][]byte
	// PeerVendorIDs is told the Vendor IDs the peer sent in its first
	// message, to set SA.PeerDPD, SA.PeerNATT and SA.NATTDraft.
	PeerVendorIDs func(s *SA, vids [][]byte)
	// NATD returns the NAT-D payloads to send in MM3/MM4, AM1... (RFC
	// 3947, 3.2); nil or empty when the peer does not support NAT-T. In
	// AM1 the responder cookie is still zero, so it is not called there.
	NATD func(s *SA) []isakmp.Payload
	// PeerNATD checks the NAT-D payloads the peer sent and records on s
	// whether either side is behind a NAT (and may float the ports).
	PeerNATD func(s *SA, natd []*isakmp.NATD) error
	// AuthPayloads returns payloads to add after our HASH/SIG in the
	// authenticating message (MM5, MM6, AM2, AM3), protected with it where
	// it is encrypted: e.g. INITIAL-CONTACT (RFC 2407, 4.6.3.3), which
	// strongSwan sends in MM5.
	AuthPayloads func(s *SA) []isakmp.Payload
}

// Config is what an exchange negotiates against: the running policy and
// the hooks. SendCert sends our certificate even when the peer sent no
// certificate request (strongSwan's send_cert = always).
type Config struct {
	Policy   *policymgr.Policy
	Hooks    Hooks
	SendCert bool

	// fixedKey replaces the DH key generation, for replaying recorded
	// exchanges in tests.
	fixedKey ikecrypto.PrivateKey
}

// Exchange is one phase 1 exchange (Main or Aggressive Mode) in one role,
// and owns its SA until it is established. Its methods are called from one
// goroutine (the daemon's loop); only Work closures run elsewhere, and they
// touch copies, never the Exchange.
type Exchange struct {
	SA  *SA
	cfg Config

	// candidates are the responder's connections for the peer's address.
	candidates []*policymgr.Connection
	// peer is the last decoded message waiting for its Work result.
	peer *received
	// pendingIV is the IV after an encrypted message consumed but not yet
	// verified (RFC 2409, 5.3: adopt only once it verifies).
	pendingIV []byte
	// moved is where the message being consumed arrived when that moves
	// the SA (PeerMoved); the SA follows once the message verified.
	moved *peerMove
	// from is the sender of the message being consumed (ConsumeFrom),
	// invalid outside that call.
	from netip.AddrPort
	// contact, set by the daemon adapter for each call, reports whether
	// an established ISAKMP SA with this SA's peer exists already; nil:
	// INITIAL-CONTACT is never sent (see initialContact).
	contact func(s *SA) bool
}

// State returns the SA's state name for ikectl list-sas.
func (x *Exchange) State() string { return x.SA.State.String() }

// WrongStateError rejects a message or a result that does not fit the
// state of an exchange (phase 1's or a Quick Mode's).
type WrongStateError struct {
	State fmt.Stringer
	What  string
}

func (e *WrongStateError) Error() string {
	return fmt.Sprintf("%s in state %s: dropped", e.What, e.State)
}

// Consume handles a datagram of this exchange (message ID 0, our cookies).
// The exchange may keep data (isakmp.DecodeOwned): the caller must not
// change it afterwards.
func (x *Exchange) Consume(env Env, data []byte) daemon.Result {
	s := x.SA
	m, err := isakmp.DecodeOwned(data)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	h := m.Header
	if h.InitiatorCookie != s.ICookie || (h.ResponderCookie != s.RCookie && s.RCookie != [8]byte{}) {
		return daemon.Result{Reject: fmt.Errorf("phase1: cookies do not match the SA")}
	}
	if h.Exchange == isakmp.ExchangeInformational {
		return x.consumeInformational(env, m)
	}
	if h.MessageID != 0 {
		return daemon.Result{Reject: fmt.Errorf("phase1: message ID %#x in phase 1", h.MessageID)}
	}
	if h.Exchange != s.Mode {
		return daemon.Result{Reject: fmt.Errorf("phase1: %s message on a %s SA", h.Exchange, s.Mode)}
	}
	switch s.State {
	case StateMMISentSA:
		return x.consumeMM2(env, m)
	case StateMMISentKE:
		return x.consumeMM4(env, m)
	case StateMMISentAuth:
		return x.consumeMM6(env, m)
	case StateMMRSentSA:
		return x.consumeMM3(env, m)
	case StateMMRSentKE:
		return x.consumeMM5(env, m)
	case StateAMISentSA:
		return x.consumeAM2(env, m)
	case StateAMRSentSA:
		return x.consumeAM3(env, m)
	}
	return daemon.Result{Reject: &WrongStateError{State: s.State, What: "message"}}
}

// Resume takes the value of a Work closure the exchange returned.
func (x *Exchange) Resume(env Env, v any) daemon.Result {
	s := x.SA
	switch s.State {
	case StateMMIComputeKE:
		return x.createMM3(env, v)
	case StateMMIComputeAuth:
		return x.createMM5(env, v)
	case StateMMIVerify, StateAMRVerify:
		return x.finishVerified(env, v)
	case StateMMRComputeKE:
		return x.createMM4(env, v)
	case StateMMRComputeAuth:
		return x.createMM6(env, v)
	case StateAMIComputeKE:
		return x.createAM1(env, v)
	case StateAMIComputeAuth:
		return x.createAM3(env, v)
	case StateAMRComputeAuth:
		return x.createAM2(env, v)
	}
	return daemon.Result{Reject: &WrongStateError{State: s.State, What: "work result"}}
}

// TimedOut is called when our last request went unanswered: the exchange
// fails with message 46 and no notify (the peer is not answering).
func (x *Exchange) TimedOut(env Env) daemon.Result {
	st := x.fail(env, "no response from the peer (retransmissions exhausted)", 0)
	st.Send = nil
	return st
}

// consumeInformational handles a notify the peer sent instead of the next
// phase 1 message (e.g. NO-PROPOSAL-CHOSEN, unencrypted before keys
// exist): message 48 for each notify, and an error notify fails the
// exchange with message 51. Encrypted ones are authenticated first.
func (x *Exchange) consumeInformational(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 && s.cipher != nil {
		// Once both sides have the keys, a notify in the clear could come
		// from anybody who saw the cookies: drop it (RFC 2408, 4.8: once
		// keying material is exchanged, informationals are protected).
		return daemon.Result{Reject: fmt.Errorf("phase1: unprotected informational after the keys exist")}
	}
	var notes []*isakmp.Notification
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		if s.cipher == nil {
			return daemon.Result{Reject: fmt.Errorf("phase1: encrypted informational before keys")}
		}
		ns, err := x.openInformational(m)
		if errors.Is(err, ErrInfoPayload) || errors.Is(err, ErrInfoEmpty) {
			// Authenticated (its HASH(1) verified) but not an
			// informational RFC 2409, 5.7 allows: dropped.
			return daemon.Result{Reject: err}
		}
		if err != nil {
			if s.State == StateMMISentAuth && !s.usesSignature() {
				// The responder answered MM5 with a notify we cannot
				// read: its keys differ from ours, which with a
				// pre-shared key means the keys differ (strongSwan
				// sends PAYLOAD-MALFORMED encrypted under its Ka).
				st := x.fail(env, "the peer's notify does not decrypt: the pre-shared keys probably differ", 0)
				return st
			}
			return daemon.Result{Reject: err}
		}
		notes = ns
	} else {
		for _, p := range m.Payloads {
			if n, ok := p.(*isakmp.Notification); ok {
				notes = append(notes, n)
			}
		}
	}
	var st daemon.Result
	failed := false
	for _, n := range notes {
		st.Log = append(st.Log, notify.Phase1Notify(n.NotifyType.String(), len(n.Data), s.Remote.Addr().String(),
			int(s.Remote.Port()), int(n.Protocol), n.SPI))
		if n.NotifyType.IsError() && !failed {
			failed = true
			st.Log = append(st.Log, notify.ReceivedErrorNotify(s.Remote, n.NotifyType.String()))
			s.FailReason = "peer sent " + n.NotifyType.String()
			st.Log = append(st.Log, notify.Phase1Failed(s.Role.String(), x.SA.LocalText(), x.SA.RemoteText(), s.FailReason))
		}
	}
	if !failed {
		if len(st.Log) == 0 {
			return daemon.Result{Reject: fmt.Errorf("phase1: informational without a notify")}
		}
		return st
	}
	s.State = StateFailed
	st.DeleteSA, st.Done = true, true
	return st
}

// sent moves the SA to st and returns r with out to send, or fails the
// exchange when the message could not be built (err).
func (x *Exchange) sent(env Env, out []byte, err error, st State, r daemon.Result) daemon.Result {
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	x.SA.State = st
	r.Send = out
	return r
}

// fail ends the negotiation: message 46 with the reason, and when n is
// not 0 a notify of type n to the peer (message 52), encrypted once keys
// exist (RFC 2409, 5.7) and in the clear before.
func (x *Exchange) fail(env Env, reason string, n isakmp.NotifyType) daemon.Result {
	s := x.SA
	s.FailReason = reason
	st := daemon.Result{DeleteSA: true, Done: true}
	st.Log = append(st.Log, notify.Phase1Failed(s.Role.String(), x.SA.LocalText(), x.SA.RemoteText(), reason))
	if n != 0 {
		if out, err := x.notifyMessage(env, n); err == nil {
			st.Send = out
			st.Log = append(st.Log, notify.SendingNotification(s.Remote, n.String()))
		}
	}
	if x.peerEstablished() {
		if out, err := x.deleteMessage(env); err == nil {
			st.Also = append(st.Also, out)
			st.Log = append(st.Log, SendingLog(s.Remote, "DELETE ISAKMP SA"))
		}
	}
	s.State = StateFailed
	return st
}

// peerEstablished reports whether the peer already counts the SA as
// established while we fail it: a Main Mode responder has once it sent
// MM6, which we (initiator) then refuse. strongSwan ignores an error
// notify on an established SA ("only critical during main mode"), so it
// also gets a Delete.
func (x *Exchange) peerEstablished() bool {
	s := x.SA
	return s.Role == daemon.RoleInitiator && s.Mode == isakmp.ExchangeMain &&
		(s.State == StateMMISentAuth || s.State == StateMMIVerify) && s.cipher != nil
}

// failErr is fail with the notify the error carries (def if none).
func (x *Exchange) failErr(env Env, err error, def isakmp.NotifyType) daemon.Result {
	return x.fail(env, reasonOf(err), isakmp.NotifyTypeOf(err, def))
}

// reasonOf is an error's text for message 46, with the notify type
// named plainly ("NO-PROPOSAL-CHOSEN: ...") rather than as Go wraps it.
func reasonOf(err error) string {
	return strings.ReplaceAll(err.Error(), "isakmp: notify ", "")
}
