package phase1

import (
	"crypto/subtle"
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Main Mode, responder side (RFC 2409, 5). The identity is encrypted, so
// the pre-shared key is chosen by the peer's address with the transform in
// MM1 (connectionsFor), and the identity is checked against the chosen
// connection's remote-id in MM5.

// consumeMM1 chooses a transform and answers MM2 (no expensive work: a
// spoofed MM1 costs the responder one SA payload).
func (x *Exchange) consumeMM1(env Env, m *isakmp.Message, r *received) daemon.Result {
	s := x.SA
	log, err := x.chooseFor(r, nil)
	if err != nil {
		st := x.failErr(env, err, isakmp.NoProposalChosen)
		st.Log = append(log, st.Log...)
		return st
	}
	x.peerVendorIDs(r)
	ps := []isakmp.Payload{chosenSAPayload(s.TransformNumber, s.Transform)}
	ps = append(ps, x.vendorIDPayloads()...)
	out, err := s.encodePlain(ps)
	return x.sent(env, out, err, StateMMRSentSA, daemon.Result{Log: log})
}

// consumeMM3 takes the initiator's KE and nonce and asks for our DH key,
// g^xy and the keys.
func (x *Exchange) consumeMM3(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if st, ok := x.takePeerKE(env, m, "MM3"); !ok {
		return st
	}
	n, err := nonce(env.Rand)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.Nr = n
	j := s.keyJob(env.Rand)
	j.peerKE = s.GXi
	j.psk = s.psk()
	j.fixed = x.cfg.fixedKey
	s.State = StateMMRComputeKE
	return j.result()
}

// createMM4 sends our KE and nonce.
func (x *Exchange) createMM4(env Env, v any) daemon.Result {
	s := x.SA
	if _, st, ok := x.keyed(env, v); !ok {
		return st
	}
	out, err := x.encodeKE(s.GXr, s.Nr)
	return x.sent(env, out, err, StateMMRSentKE, daemon.Result{})
}

// consumeMM5 decrypts the initiator's identity and authentication. A body
// that does not decrypt to a payload chain is what a different pre-shared
// key gives (Ka differs): PAYLOAD-MALFORMED, as strongSwan answers.
func (x *Exchange) consumeMM5(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		return daemon.Result{Reject: fmt.Errorf("phase1: MM5 not encrypted")}
	}
	next, err := open(m, s.handshakeBlock(), s.iv)
	if err != nil && x.fromOtherHost() {
		return daemon.Result{Reject: fmt.Errorf("phase1: MM5 from %v, not the peer's address, does not decrypt: %w", x.from, err)}
	}
	if err != nil {
		reason := fmt.Sprintf("MM5 does not decrypt to valid payloads (%v)", err)
		if !s.usesSignature() {
			reason += "; the pre-shared keys probably differ"
		}
		return x.fail(env, reason, isakmp.PayloadMalformed)
	}
	r, st, ok := x.takePeerID(env, m, next)
	if !ok {
		return st
	}
	if !remoteIDMatches(s.Conn, r.id) {
		c := x.switchConn(r.id)
		if c == nil {
			return x.failNoPolicy(env, fmt.Sprintf("no connection for identity %s", s.RemoteIDText))
		}
		s.Conn = c
	}
	s.LocalID = localID(s.Conn, s.Local.Addr())
	s.LocalIDText = idText(s.LocalID)
	j := s.keyJob(env.Rand)
	if err := s.peerAuth(j, r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	if err := s.ourAuth(j); err != nil {
		return x.authSetupFailed(env, err)
	}
	s.State = StateMMRComputeAuth
	return j.result()
}

// switchConn finds another candidate connection for the identity the
// initiator revealed in MM5, one that accepts the chosen transform with
// the same pre-shared key (SKEYID is already derived from it).
func (x *Exchange) switchConn(id *isakmp.ID) *policymgr.Connection {
	s := x.SA
	for _, c := range x.candidates {
		if c == s.Conn || !accepts(c, s.Transform) || !remoteIDMatches(c, id) {
			continue
		}
		if !s.usesSignature() && subtle.ConstantTimeCompare(c.IKE.PSK.Bytes(), s.Conn.IKE.PSK.Bytes()) != 1 {
			continue
		}
		return c
	}
	return nil
}

// createMM6 answers with our identity and HASH_R or SIG_R once the
// initiator is authenticated, and establishes the SA.
func (x *Exchange) createMM6(env Env, v any) daemon.Result {
	s := x.SA
	j, st, ok := x.verified(env, v)
	if !ok {
		return st
	}
	s.iv = x.pendingIV
	out, err := x.sealAuth(append([]isakmp.Payload{s.LocalID}, x.authPayloads(j)...))
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	return x.establish(env, j, daemon.Result{Send: out, Log: j.log})
}
