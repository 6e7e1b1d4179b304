package phase1

import (
	"errors"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// HalfOpen names the failures of a responder's half-open phase 1 SA that
// no exchange sees, so that the operator gets message 46 for every phase 1
// that does not come up:
//
//   - an encrypted informational that the SA's keys cannot open while we
//     wait for MM5 or AM3 (RFC 2409, 5.4: in Aggressive Mode the initiator
//     checks HASH_R first; with another pre-shared key it answers
//     [HASH N(AUTHENTICATION-FAILED)] sealed under its own keys, which are
//     not ours). The SA stays: one datagram that does not decrypt proves
//     nothing (anybody who saw the cookies can send one), so the message
//     is logged once and the SA waits for its half-open lifetime;
//   - the half-open lifetime ending (daemon.RemoveHalfOpen) with no
//     message 46 logged for the SA: reason "timeout waiting for AM3" (or
//     the state it was stuck in).
//
// It wraps the informational handler (Info, normally the InfoHandler),
// whose Start it calls first, and it is a daemon.Watcher, watching before
// Life, which wipes the SA's state on removal (stack.Register
// keeps that order).
type HalfOpen struct {
	Info daemon.Handler
	// logged are the SAs message 46 was logged for; an entry goes when
	// its SA is established or removed, so it is bounded by the
	// daemon's half-open limit.
	logged map[*daemon.SA]bool
}

// NewHalfOpen wraps the informational handler info.
func NewHalfOpen(info daemon.Handler) *HalfOpen {
	return &HalfOpen{Info: info, logged: map[*daemon.SA]bool{}}
}

// Start hands the message to Info; when Info rejects an encrypted message
// on a half-open responder SA that has its keys (MM4 or AM2 sent), message
// 46 says the peer's message did not decrypt, once per SA.
func (h *HalfOpen) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	ex, r := h.Info.Start(c, p)
	if r.Reject == nil || c.SA == nil || c.SA.Established || h.logged[c.SA] {
		return ex, r
	}
	s := StateOf(c.SA)
	if s == nil || s.FailReason != "" || s.cipher == nil {
		return ex, r
	}
	if s.State != StateMMRSentKE && s.State != StateAMRSentSA {
		return ex, r
	}
	if p.Header.Flags&isakmp.FlagEncryption == 0 || !undecryptable(r.Reject) {
		return ex, r
	}
	reason := "could not decrypt the peer's message"
	if !s.usesSignature() {
		reason += ": pre-shared keys differ?"
	}
	h.logged[c.SA] = true
	r.Log = append(r.Log, notify.Phase1Failed(s.Role.String(), s.LocalText(), s.RemoteText(), reason))
	return ex, r
}

// undecryptable reports whether err, from opening a protected
// informational, says that it did not decrypt into a message our keys
// vouch for (a payload chain that does not decode, a missing or wrong
// HASH(1)) rather than that it was refused for what it is.
func undecryptable(err error) bool {
	if errors.Is(err, ErrInfoHash) || errors.Is(err, ErrInfoNoHash) {
		return true
	}
	for _, other := range []error{ErrInfoNotInformational, ErrInfoCookies, ErrInfoUnprotected,
		ErrInfoNotKeyed, ErrInfoMessageID, ErrInfoEmpty, ErrInfoPayload} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true // isakmp's decryption or payload decoding error
}

// SAEstablished forgets that message 46 was logged: a datagram that did
// not decrypt was not the peer's after all (daemon.Watcher).
func (h *HalfOpen) SAEstablished(c *daemon.Context) daemon.Result {
	delete(h.logged, c.SA)
	return daemon.Result{}
}

// SARemoved logs message 46 for a half-open SA that expired without one
// (daemon.Watcher).
func (h *HalfOpen) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	logged := h.logged[c.SA]
	delete(h.logged, c.SA)
	if why != daemon.RemoveHalfOpen || logged || c.SA.Established {
		return daemon.Result{}
	}
	s := StateOf(c.SA)
	if s == nil || s.FailReason != "" || s.State == StateFailed || s.State == StateDeleted {
		return daemon.Result{}
	}
	s.FailReason = stuckReason(s.State)
	return daemon.Result{Log: []notify.Message{notify.Phase1Failed(s.Role.String(),
		s.LocalText(), s.RemoteText(), s.FailReason)}}
}

// stuckReason says what a half-open SA waited for when its lifetime
// ended.
func stuckReason(st State) string {
	switch st {
	case StateMMRSentSA:
		return "timeout waiting for MM3"
	case StateMMRSentKE:
		return "timeout waiting for MM5"
	case StateAMRSentSA:
		return "timeout waiting for AM3"
	}
	return "timeout in state " + st.String()
}
