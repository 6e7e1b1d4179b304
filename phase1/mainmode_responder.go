package phase1

import (
	"fmt"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Main Mode, responder side (RFC 2409, 5). The identity is encrypted, so
// the pre-shared key is chosen by the peer's address with the transform in
// MM1 (connectionsFor), and the identity is checked against the chosen
// connection's remote-id in MM5.

// consumeMM1 chooses a transform and answers MM2 (no expensive work: a
// spoofed MM1 costs the responder one SA payload).
func (x *Exchange) consumeMM1(env Env, m *isakmp.Message, r *received) Step {
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
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.State = StateMMRSentSA
	return Step{Send: out, Log: log}
}

// consumeMM3 takes the initiator's KE and nonce and asks for our DH key,
// g^xy and the keys.
func (x *Exchange) consumeMM3(env Env, m *isakmp.Message) Step {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return Step{Reject: fmt.Errorf("phase1: MM3 encrypted")}
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return Step{Reject: err}
	}
	if r.sa != nil || (r.ke == nil && r.nonce == nil) {
		// A late copy of the previous message, not a broken MM3.
		return Step{Reject: &errWrongState{s.State, "message without KE and nonce"}}
	}
	g, err := ikecrypto.NewGroup(ikecrypto.GroupID(s.Transform.Group))
	if err != nil {
		return x.failErr(env, err, isakmp.NoProposalChosen)
	}
	if err := checkNonce(r.nonce); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	if err := checkKE(r.ke, g); err != nil {
		return x.failErr(env, err, isakmp.InvalidKeyInformation)
	}
	s.Ni, s.GXi = r.nonce.Data, r.ke.Data
	s.peerCR = s.peerCR || len(r.crs) > 0
	if err := x.peerNATD(r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
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
	return Step{Work: j.run}
}

// createMM4 sends our KE and nonce.
func (x *Exchange) createMM4(env Env, v any) Step {
	s := x.SA
	j, ok := v.(*job)
	if !ok {
		return Step{Reject: fmt.Errorf("phase1: unexpected work result %T", v)}
	}
	if j.err != nil {
		return x.failErr(env, j.err, 0)
	}
	s.adoptKeys(j)
	s.logKeys(env)
	ps := []isakmp.Payload{&isakmp.KE{Data: s.GXr}, &isakmp.Nonce{Data: s.Nr}}
	ps = append(ps, x.crPayloads()...)
	ps = append(ps, x.natdPayloads()...)
	out, err := s.encodePlain(ps)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.State = StateMMRSentKE
	return Step{Send: out}
}

// consumeMM5 decrypts the initiator's identity and authentication. A body
// that does not decrypt to a payload chain is what a different pre-shared
// key gives (Ka differs): PAYLOAD-MALFORMED, as strongSwan answers.
func (x *Exchange) consumeMM5(env Env, m *isakmp.Message) Step {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		return Step{Reject: fmt.Errorf("phase1: MM5 not encrypted")}
	}
	next, err := open(m, s.Cipher, s.IV)
	if err != nil {
		reason := fmt.Sprintf("MM5 does not decrypt to valid payloads (%v)", err)
		if !s.usesSignature() {
			reason += "; the pre-shared keys probably differ"
		}
		return x.fail(env, reason, isakmp.PayloadMalformed)
	}
	// From here on a failure's notify is protected from MM5's last block,
	// as the peer that sent MM5 expects (notifyMessage).
	x.pendingIV = next
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	if err := checkID(r.id); err != nil {
		return x.failErr(env, err, isakmp.InvalidIDInformation)
	}
	s.RemoteID, s.RemoteIDText = r.id, idText(r.id)
	x.notePeer(r)
	if !remoteIDMatches(s.Conn, r.id) {
		c := x.switchConn(r.id)
		if c == nil {
			st := x.fail(env, fmt.Sprintf("no connection for identity %s", s.RemoteIDText), isakmp.InvalidIDInformation)
			st.Log = append([]notify.Message{notify.NoPolicyFor(x.localText(), s.RemoteIDText)}, st.Log...)
			return st
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
	x.pendingIV = next
	s.State = StateMMRComputeAuth
	return Step{Work: j.run}
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
		if !s.usesSignature() && string(c.IKE.PSK.Bytes()) != string(s.Conn.IKE.PSK.Bytes()) {
			continue
		}
		return c
	}
	return nil
}

// createMM6 answers with our identity and HASH_R or SIG_R once the
// initiator is authenticated, and establishes the SA.
func (x *Exchange) createMM6(env Env, v any) Step {
	s := x.SA
	j, ok := v.(*job)
	if !ok {
		return Step{Reject: fmt.Errorf("phase1: unexpected work result %T", v)}
	}
	if err := firstErr(j.authErr, j.err); err != nil {
		st := x.failErr(env, err, isakmp.AuthenticationFailed)
		st.Log = append(j.log, st.Log...)
		return st
	}
	s.IV = x.pendingIV
	ps := []isakmp.Payload{s.LocalID}
	ps = append(ps, x.certPayloads()...)
	ps = append(ps, s.authPayload(j.ourAuth))
	ps = append(ps, x.authExtras()...)
	out, next, err := seal(s.header(), ps, s.Cipher, s.IV)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.IV = next
	return x.establish(env, j, Step{Send: out, Log: j.log})
}
