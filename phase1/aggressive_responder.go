package phase1

import (
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
)

// Aggressive Mode, responder side (RFC 2409, 5). The identity is in the
// clear in AM1, so the connection (and its pre-shared key) is chosen by
// address, transform and identity together.

// consumeAM1 chooses a transform and connection and asks for our DH key,
// g^xy, the keys and HASH_R/SIG_R.
func (x *Exchange) consumeAM1(env Env, m *isakmp.Message, r *received) daemon.Result {
	s := x.SA
	if err := checkID(r.id); err != nil {
		return x.failErr(env, err, isakmp.InvalidIDInformation)
	}
	s.RemoteID, s.RemoteIDText = r.id, idText(r.id)
	log, err := x.chooseFor(r, r.id)
	if err != nil {
		st := x.failErr(env, err, isakmp.NoProposalChosen)
		st.Log = append(log, st.Log...)
		return st
	}
	if n, err := checkPeerKE(s.Transform, r); err != nil {
		return x.failErr(env, err, n)
	}
	s.Ni, s.GXi = r.nonce.Data, r.ke.Data
	x.notePeer(r)
	x.peerVendorIDs(r)
	s.LocalID = localID(s.Conn, s.Local.Addr())
	s.LocalIDText = idText(s.LocalID)
	n, err := nonce(env.Rand)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.Nr = n
	j := s.keyJob(env.Rand)
	j.peerKE = s.GXi
	j.fixed = x.cfg.fixedKey
	if err := s.ourAuth(j); err != nil {
		return x.authSetupFailed(env, err)
	}
	s.State = StateAMRComputeAuth
	res := j.result()
	res.Log = log
	return res
}

// createAM2 answers with the choice, our KE, nonce, identity and HASH_R or
// SIG_R.
func (x *Exchange) createAM2(env Env, v any) daemon.Result {
	s := x.SA
	j, st, ok := x.keyed(env, v)
	if !ok {
		return st
	}
	ps := []isakmp.Payload{chosenSAPayload(s.TransformNumber, s.Transform),
		&isakmp.KE{Data: s.GXr}, &isakmp.Nonce{Data: s.Nr}, s.LocalID}
	ps = append(ps, x.authPayloads(j)...)
	ps = append(ps, x.crPayloads()...)
	ps = append(ps, x.vendorIDPayloads()...)
	ps = append(ps, x.natdPayloads()...)
	out, err := s.encodePlain(ps)
	return x.sent(env, out, err, StateAMRSentSA, daemon.Result{})
}

// consumeAM3 decrypts the initiator's HASH_I or SIG_I and asks for its
// verification.
func (x *Exchange) consumeAM3(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		// RFC 2409 allows AM3 in the clear; read it as it is.
		r, err := sortPayloads(m.Payloads)
		if err != nil {
			return x.failErr(env, err, isakmp.PayloadMalformed)
		}
		return x.verifyAM3(env, r, s.iv)
	}
	next, err := open(m, s.handshakeBlock(), s.iv)
	if err != nil && x.fromOtherHost() {
		return daemon.Result{Reject: fmt.Errorf("phase1: AM3 from %v, not the peer's address, does not decrypt: %w", x.from, err)}
	}
	if err != nil {
		reason := fmt.Sprintf("AM3 does not decrypt to valid payloads (%v)", err)
		return x.fail(env, reason, isakmp.PayloadMalformed)
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	return x.verifyAM3(env, r, next)
}

// verifyAM3 takes AM3's payloads, whose last block (the IV after AM3, or
// the current one for AM3 in the clear) is next, and asks for the
// verification of HASH_I or SIG_I.
func (x *Exchange) verifyAM3(env Env, r *received, next []byte) daemon.Result {
	x.pendingIV = next
	x.notePeer(r)
	if err := x.peerNATD(r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	return x.askVerify(env, r, StateAMRVerify)
}
