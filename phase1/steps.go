package phase1

import (
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// The steps Main Mode and Aggressive Mode share, in both roles (RFC 2409,
// 5): the same payloads are checked and built in the same way whichever
// message carries them, so each is written once here and the mode files
// (mainmode_*.go, aggressive_*.go) only say which message does what.

// computed takes the value of a Work closure that computed our side (DH
// key, keys, our HASH/SIG): the job, or ok false with the daemon.Result that ends
// the call (a value that is not a job is rejected; a failed computation
// fails the exchange without a notify).
func (x *Exchange) computed(env Env, v any) (j *job, st daemon.Result, ok bool) {
	j, ok = v.(*job)
	if !ok {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: unexpected work result %T", v)}, false
	}
	if j.err != nil {
		return nil, x.failErr(env, j.err, 0), false
	}
	if s := x.SA; s.Handshake != nil {
		s.spare = j
	}
	return j, daemon.Result{}, true
}

// keyed is computed for a job that derived the SA's keys: they are the
// SA's from now on (adoptKeys) and logged at the keys level.
func (x *Exchange) keyed(env Env, v any) (*job, daemon.Result, bool) {
	j, st, ok := x.computed(env, v)
	if ok {
		x.SA.adoptKeys(j)
		x.SA.logKeys(env)
	}
	return j, st, ok
}

// verified takes the value of a Work closure that verified the peer's
// HASH or SIG: the job, or ok false with the daemon.Result that ends the call. A
// failed verification (or computation) fails the exchange with
// AUTHENTICATION-FAILED unless the error carries another notify (RFC 2408,
// 3.14.1), after the messages the verification logged.
func (x *Exchange) verified(env Env, v any) (j *job, st daemon.Result, ok bool) {
	j, ok = v.(*job)
	if !ok {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: unexpected work result %T", v)}, false
	}
	if err := firstErr(j.authErr, j.err); err != nil {
		x.moved = nil
		st := x.failErr(env, err, isakmp.AuthenticationFailed)
		st.Log = append(j.log, st.Log...)
		return nil, st, false
	}
	x.followPeer()
	return j, daemon.Result{}, true
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// initiatorKE adopts the DH key a job generated as g^xi and draws Ni (RFC
// 2409, 5: KE and Ni of MM3 or AM1).
func (s *SA) initiatorKE(j *job, env Env) error {
	s.dh = j.priv
	s.GXi = j.priv.PublicBytes()
	n, err := nonce(env.Rand)
	if err != nil {
		return err
	}
	s.Ni = n
	return nil
}

// checkPeerKE checks the peer's nonce and KE payloads against the chosen
// transform's group (RFC 2409, 5: Ni_b/Nr_b of 8 to 256 bytes, g^x of the
// group's length). A failure carries the notify type to send.
func checkPeerKE(t Transform, r *received) (isakmp.NotifyType, error) {
	g, err := ikecrypto.NewGroup(ikecrypto.GroupID(t.Group))
	if err != nil {
		return isakmp.NoProposalChosen, err
	}
	if err := checkNonce(r.nonce); err != nil {
		return isakmp.PayloadMalformed, err
	}
	if err := checkKE(r.ke, g); err != nil {
		return isakmp.InvalidKeyInformation, err
	}
	return 0, nil
}

// takeChoice reads the responder's answer to our proposal (MM2 or AM2,
// named by what): in the clear, with an SA payload that picks one of the
// transforms we offered, whose lifetime is then settled. The daemon.Result holds
// the lifetime messages, or, with ok false, ends the call.
func (x *Exchange) takeChoice(env Env, m *isakmp.Message, what string) (r *received, st daemon.Result, ok bool) {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: %s encrypted", what)}, false
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return nil, daemon.Result{Reject: err}, false
	}
	if r.sa == nil {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: %s without SA payload", what)}, false
	}
	s.RCookie = m.Header.ResponderCookie
	t, err := checkChosen(r.sa, s.Offered)
	if err != nil {
		return nil, x.failErr(env, err, isakmp.NoProposalChosen), false
	}
	s.Transform = t
	return r, daemon.Result{Log: settleLifetime(&s.Transform, s.Conn, lifetimeMin(s.Policy))}, true
}

// encodeKE encodes our Main Mode key exchange (MM3, MM4): KE and nonce,
// certificate requests for signatures, and NAT-D (RFC 2409, 5; RFC 3947,
// 3.2).
func (x *Exchange) encodeKE(gx, n []byte) ([]byte, error) {
	ps := []isakmp.Payload{&isakmp.KE{Data: gx}, &isakmp.Nonce{Data: n}}
	ps = append(ps, x.crPayloads()...)
	ps = append(ps, x.natdPayloads()...)
	return x.SA.encodePlain(ps)
}

// takePeerKE reads the peer's Main Mode key exchange (MM3 or MM4, named by
// what): in the clear, with its KE and nonce, which it records as the
// peer's (g^xi and Ni from the initiator, g^xr and Nr from the responder),
// with its certificate requests and NAT-D. A message with an SA payload or
// with neither KE nor nonce is a late copy of the one before, dropped, not
// a broken one.
func (x *Exchange) takePeerKE(env Env, m *isakmp.Message, what string) (st daemon.Result, ok bool) {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return daemon.Result{Reject: fmt.Errorf("phase1: %s encrypted", what)}, false
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return daemon.Result{Reject: err}, false
	}
	if r.sa != nil || (r.ke == nil && r.nonce == nil) {
		return daemon.Result{Reject: &WrongStateError{State: s.State, What: "message without KE and nonce"}}, false
	}
	if n, err := checkPeerKE(s.Transform, r); err != nil {
		return x.failErr(env, err, n), false
	}
	if s.Role == daemon.RoleInitiator {
		s.Nr, s.GXr = r.nonce.Data, r.ke.Data
	} else {
		s.Ni, s.GXi = r.nonce.Data, r.ke.Data
	}
	s.peerCR = s.peerCR || len(r.crs) > 0
	if err := x.peerNATD(r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed), false
	}
	return daemon.Result{}, true
}

// takePeerID reads the payloads of the peer's decrypted identity message
// (MM5, MM6), whose last block next is: from here on a failure's notify
// is protected from that block, as the peer that sent it expects
// (notifyMessage). The ID payload must be one phase 1 can authenticate
// (RFC 2407, 4.6.2); it becomes the SA's remote identity.
func (x *Exchange) takePeerID(env Env, m *isakmp.Message, next []byte) (r *received, st daemon.Result, ok bool) {
	s := x.SA
	x.pendingIV = next
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return nil, x.failErr(env, err, isakmp.PayloadMalformed), false
	}
	if err := checkID(r.id); err != nil {
		return nil, x.failErr(env, err, isakmp.InvalidIDInformation), false
	}
	s.RemoteID, s.RemoteIDText = r.id, idText(r.id)
	x.notePeer(r)
	return r, daemon.Result{}, true
}

// askVerify asks for the verification of the peer's HASH or SIG in r,
// the last message of the exchange from the peer (MM6, AM3), in state
// next; finishVerified takes its result.
func (x *Exchange) askVerify(env Env, r *received, next State) daemon.Result {
	s := x.SA
	j := s.keyJob(env.Rand)
	if err := s.peerAuth(j, r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	s.State = next
	return j.result()
}

// finishVerified establishes the SA once the peer's last message (MM6,
// AM3) is authenticated, adopting the IV after it (RFC 2409, 5.3: only
// then).
func (x *Exchange) finishVerified(env Env, v any) daemon.Result {
	j, st, ok := x.verified(env, v)
	if !ok {
		return st
	}
	x.SA.iv = x.pendingIV
	return x.establish(env, j, daemon.Result{Log: j.log})
}

// failNoPolicy fails because no connection takes the peer's identity:
// the no-policy message first, then message 46 with reason, and
// INVALID-ID-INFORMATION to the peer (RFC 2408, 3.14.1).
func (x *Exchange) failNoPolicy(env Env, reason string) daemon.Result {
	st := x.fail(env, reason, isakmp.InvalidIDInformation)
	st.Log = append([]notify.Message{notify.NoPolicyFor(x.SA.LocalText(), x.SA.RemoteIDText)}, st.Log...)
	return st
}

// failNotRemoteID is failNoPolicy for an initiator whose peer named itself
// other than the connection's remote-id (MM6, AM2).
func (x *Exchange) failNotRemoteID(env Env) daemon.Result {
	s := x.SA
	return x.failNoPolicy(env, fmt.Sprintf("the peer's identity %s is not the remote-id %s", s.RemoteIDText, s.Conn.IKE.RemoteID))
}

// authPayloads returns what follows our identity in an authenticating
// message (MM5, MM6, AM2, AM3): our certificates when they go, our HASH_x
// or SIG_x, and the hooks' extras (RFC 2409, 5).
func (x *Exchange) authPayloads(j *job) []isakmp.Payload {
	ps := x.certPayloads()
	ps = append(ps, x.SA.authPayload(j.ourAuth))
	return append(ps, x.authExtras()...)
}

// sealAuth encrypts an authenticating message (MM5, MM6, AM3) under the
// SA's IV chain and advances it (RFC 2409, Appendix B).
func (x *Exchange) sealAuth(ps []isakmp.Payload) ([]byte, error) {
	s := x.SA
	out, next, err := seal(s.header(), ps, s.handshakeBlock(), s.iv)
	if err != nil {
		return nil, err
	}
	s.iv = next
	return out, nil
}
