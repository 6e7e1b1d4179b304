package phase1

import (
	"fmt"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// Main Mode, initiator side (RFC 2409, 5):
//
//	HDR, SA                     -->
//	                            <--  HDR, SA
//	HDR, KE, Ni                 -->
//	                            <--  HDR, KE, Nr
//	HDR*, IDii, [CERT,] HASH_I | SIG_I  -->
//	                            <--  HDR*, IDir, [CERT,] HASH_R | SIG_R

// createMM1 sends our proposal: one proposal, the connection's transforms.
func (x *Exchange) createMM1(env Env) Step {
	s := x.SA
	sa := saPayload(s.Offered)
	b, err := isakmp.MarshalBody(sa)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.SAiB = b
	out, err := s.encodePlain(append([]isakmp.Payload{sa}, x.vendorIDPayloads()...))
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.State = StateMMISentSA
	return Step{Send: out, Request: true}
}

// consumeMM2 takes the responder's choice and asks for our DH key.
func (x *Exchange) consumeMM2(env Env, m *isakmp.Message) Step {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return Step{Reject: fmt.Errorf("phase1: MM2 encrypted")}
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return Step{Reject: err}
	}
	if r.sa == nil {
		return Step{Reject: fmt.Errorf("phase1: MM2 without SA payload")}
	}
	s.RCookie = m.Header.ResponderCookie
	t, err := checkChosen(r.sa, s.Offered)
	if err != nil {
		return x.failErr(env, err, isakmp.NoProposalChosen)
	}
	s.Transform = t
	st := Step{Log: settleLifetime(&s.Transform, s.Conn, lifetimeMin(s.Policy))}
	x.peerVendorIDs(r)
	s.State = StateMMIComputeKE
	j := &job{role: Initiator, rand: env.Rand, t: s.Transform, gen: true, fixed: x.cfg.fixedKey}
	st.Work = j.run
	return st
}

// createMM3 sends our KE and nonce (and CR for signatures, NAT-D).
func (x *Exchange) createMM3(env Env, v any) Step {
	s := x.SA
	j, ok := v.(*job)
	if !ok {
		return Step{Reject: fmt.Errorf("phase1: unexpected work result %T", v)}
	}
	if j.err != nil {
		return x.failErr(env, j.err, 0)
	}
	s.dh = j.priv
	s.GXi = j.priv.PublicBytes()
	n, err := nonce(env.Rand)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.Ni = n
	ps := []isakmp.Payload{&isakmp.KE{Data: s.GXi}, &isakmp.Nonce{Data: s.Ni}}
	ps = append(ps, x.crPayloads()...)
	ps = append(ps, x.natdPayloads()...)
	out, err := s.encodePlain(ps)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.State = StateMMISentKE
	return Step{Send: out, Request: true}
}

// consumeMM4 takes the responder's KE and nonce and asks for g^xy, the
// keys and our HASH_I or SIG_I.
func (x *Exchange) consumeMM4(env Env, m *isakmp.Message) Step {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption != 0 {
		return Step{Reject: fmt.Errorf("phase1: MM4 encrypted")}
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return Step{Reject: err}
	}
	if r.sa != nil || (r.ke == nil && r.nonce == nil) {
		// A late copy of the previous message, not a broken MM4.
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
	s.Nr = r.nonce.Data
	s.GXr = r.ke.Data
	s.peerCR = s.peerCR || len(r.crs) > 0
	if err := x.peerNATD(r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	j := s.keyJob(env.Rand)
	j.peerKE = s.GXr
	if err := s.ourAuth(j); err != nil {
		return x.authSetupFailed(env, err)
	}
	s.State = StateMMIComputeAuth
	return Step{Work: j.run}
}

// authSetupFailed fails when our own credentials are missing (message 49
// for a private key) before anything is computed.
func (x *Exchange) authSetupFailed(env Env, err error) Step {
	var st Step
	if m, ok := err.(notify.Message); ok {
		st = x.fail(env, m.Text, isakmp.AuthenticationFailed)
		st.Log = append([]notify.Message{m}, st.Log...)
		return st
	}
	return x.failErr(env, err, isakmp.PayloadMalformed)
}

// createMM5 sends our identity and HASH_I or SIG_I, encrypted.
func (x *Exchange) createMM5(env Env, v any) Step {
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
	ps := []isakmp.Payload{s.LocalID}
	ps = append(ps, x.certPayloads()...)
	ps = append(ps, s.authPayload(j.ourAuth))
	ps = append(ps, x.authExtras()...)
	out, next, err := seal(s.header(), ps, s.Cipher, s.IV)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.IV = next
	s.State = StateMMISentAuth
	return Step{Send: out, Request: true, Log: j.log}
}

// consumeMM6 decrypts the responder's identity and authentication and
// asks for its verification.
func (x *Exchange) consumeMM6(env Env, m *isakmp.Message) Step {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		return Step{Reject: fmt.Errorf("phase1: MM6 not encrypted")}
	}
	next, err := open(m, s.Cipher, s.IV)
	if err != nil {
		// RFC 2409, 5.3: a message that does not decrypt leaves the
		// exchange as it was; the responder will retransmit or notify.
		return Step{Reject: fmt.Errorf("phase1: MM6 does not decrypt: %w", err)}
	}
	// A failure from here on is notified from MM6's last block, which
	// the responder that sent it holds (notifyMessage).
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
		st := x.fail(env, fmt.Sprintf("the peer's identity %s is not the remote-id %s", s.RemoteIDText, s.Conn.IKE.RemoteID), isakmp.InvalidIDInformation)
		st.Log = append([]notify.Message{notify.NoPolicyFor(x.localText(), s.RemoteIDText)}, st.Log...)
		return st
	}
	j := s.keyJob(env.Rand)
	if err := s.peerAuth(j, r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	x.pendingIV = next
	s.State = StateMMIVerify
	return Step{Work: j.run}
}

// finishMM6 establishes the SA once the responder is authenticated.
func (x *Exchange) finishMM6(env Env, v any) Step {
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
	return x.establish(env, j, Step{Log: j.log})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
