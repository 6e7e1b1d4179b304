package phase1

import (
	"fmt"

	"github.com/iked/iked/daemon"
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
func (x *Exchange) createMM1(env Env) daemon.Result {
	s := x.SA
	sa := saPayload(s.Offered)
	b, err := isakmp.MarshalBody(sa)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.SAiB = b
	out, err := s.encodePlain(append([]isakmp.Payload{sa}, x.vendorIDPayloads()...))
	return x.sent(env, out, err, StateMMISentSA, daemon.Result{Request: true})
}

// consumeMM2 takes the responder's choice and asks for our DH key.
func (x *Exchange) consumeMM2(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	r, st, ok := x.takeChoice(env, m, "MM2")
	if !ok {
		return st
	}
	x.peerVendorIDs(r)
	s.State = StateMMIComputeKE
	j := &job{role: daemon.RoleInitiator, rand: env.Rand, t: s.Transform, gen: true, fixed: x.cfg.fixedKey}
	st.Work = j.run
	return st
}

// createMM3 sends our KE and nonce (and CR for signatures, NAT-D).
func (x *Exchange) createMM3(env Env, v any) daemon.Result {
	s := x.SA
	j, st, ok := x.computed(env, v)
	if !ok {
		return st
	}
	if err := s.initiatorKE(j, env); err != nil {
		return x.fail(env, err.Error(), 0)
	}
	out, err := x.encodeKE(s.GXi, s.Ni)
	return x.sent(env, out, err, StateMMISentKE, daemon.Result{Request: true})
}

// consumeMM4 takes the responder's KE and nonce and asks for g^xy, the
// keys and our HASH_I or SIG_I.
func (x *Exchange) consumeMM4(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if st, ok := x.takePeerKE(env, m, "MM4"); !ok {
		return st
	}
	j := s.keyJob(env.Rand)
	j.peerKE = s.GXr
	if err := s.ourAuth(j); err != nil {
		return x.authSetupFailed(env, err)
	}
	s.State = StateMMIComputeAuth
	return j.result()
}

// authSetupFailed fails when our own credentials are missing (message 49
// for a private key) before anything is computed.
func (x *Exchange) authSetupFailed(env Env, err error) daemon.Result {
	var st daemon.Result
	if m, ok := err.(notify.Message); ok {
		st = x.fail(env, m.Text, isakmp.AuthenticationFailed)
		st.Log = append([]notify.Message{m}, st.Log...)
		return st
	}
	return x.failErr(env, err, isakmp.PayloadMalformed)
}

// createMM5 sends our identity and HASH_I or SIG_I, encrypted.
func (x *Exchange) createMM5(env Env, v any) daemon.Result {
	s := x.SA
	j, st, ok := x.keyed(env, v)
	if !ok {
		return st
	}
	out, err := x.sealAuth(append([]isakmp.Payload{s.LocalID}, x.authPayloads(j)...))
	return x.sent(env, out, err, StateMMISentAuth, daemon.Result{Request: true, Log: j.log})
}

// consumeMM6 decrypts the responder's identity and authentication and
// asks for its verification.
func (x *Exchange) consumeMM6(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		return daemon.Result{Reject: fmt.Errorf("phase1: MM6 not encrypted")}
	}
	next, err := open(m, s.handshakeBlock(), s.iv)
	if err != nil {
		// RFC 2409, 5.3: a message that does not decrypt leaves the
		// exchange as it was; the responder will retransmit or notify.
		return daemon.Result{Reject: fmt.Errorf("phase1: MM6 does not decrypt: %w", err)}
	}
	r, st, ok := x.takePeerID(env, m, next)
	if !ok {
		return st
	}
	if !remoteIDMatches(s.Conn, r.id) {
		return x.failNotRemoteID(env)
	}
	return x.askVerify(env, r, StateMMIVerify)
}
