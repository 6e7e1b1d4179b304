package phase1

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
)

// Aggressive Mode, initiator side (RFC 2409, 5):
//
//	HDR, SA, KE, Ni, IDii       -->
//	                            <--  HDR, SA, KE, Nr, IDir, [CERT,] HASH_R | SIG_R
//	HDR*, [CERT,] HASH_I | SIG_I  -->
//
// The KE of AM1 fixes the group, so only the transforms of the first
// transform's group are offered. AM3 is encrypted, as strongSwan sends it.

// startAM1 asks for our DH key before AM1 can be built.
func (x *Exchange) startAM1(env Env) daemon.Result {
	s := x.SA
	g := s.Offered[0].Group
	var ts []Transform
	for _, t := range s.Offered {
		if t.Group == g {
			ts = append(ts, t)
		}
	}
	s.Offered = ts
	s.State = StateAMIComputeKE
	j := &job{role: daemon.RoleInitiator, rand: env.Rand, t: ts[0], gen: true, fixed: x.cfg.fixedKey}
	return j.result()
}

// createAM1 sends the proposal, our KE, nonce and identity.
func (x *Exchange) createAM1(env Env, v any) daemon.Result {
	s := x.SA
	j, st, ok := x.computed(env, v)
	if !ok {
		return st
	}
	if err := s.initiatorKE(j, env); err != nil {
		return x.fail(env, err.Error(), 0)
	}
	sa := saPayload(s.Offered)
	b, err := isakmp.MarshalBody(sa)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	s.SAiB = b
	// The authentication method is the same for every offered transform.
	s.Transform.Auth = s.Offered[0].Auth
	ps := []isakmp.Payload{sa, &isakmp.KE{Data: s.GXi}, &isakmp.Nonce{Data: s.Ni}, s.LocalID}
	ps = append(ps, x.crPayloads()...)
	ps = append(ps, x.vendorIDPayloads()...)
	out, err := s.encodePlain(ps)
	return x.sent(env, out, err, StateAMISentSA, daemon.Result{Request: true})
}

// consumeAM2 checks the responder's choice, KE, nonce and identity, and asks
// for g^xy, the keys, the verification of HASH_R/SIG_R and our HASH_I/SIG_I.
func (x *Exchange) consumeAM2(env Env, m *isakmp.Message) daemon.Result {
	s := x.SA
	r, st, ok := x.takeChoice(env, m, "AM2")
	if !ok {
		return st
	}
	if n, err := checkPeerKE(s.Transform, r); err != nil {
		return x.failErr(env, err, n)
	}
	if err := checkID(r.id); err != nil {
		return x.failErr(env, err, isakmp.InvalidIDInformation)
	}
	s.Nr, s.GXr = r.nonce.Data, r.ke.Data
	s.RemoteID, s.RemoteIDText = r.id, idText(r.id)
	if !remoteIDMatches(s.Conn, r.id) {
		return x.failNotRemoteID(env)
	}
	x.peerVendorIDs(r)
	x.notePeer(r)
	if err := x.peerNATD(r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	j := s.keyJob(env.Rand)
	j.peerKE = s.GXr
	if err := s.peerAuth(j, r); err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	if err := s.ourAuth(j); err != nil {
		return x.authSetupFailed(env, err)
	}
	s.State = StateAMIComputeAuth
	st.Work, st.Cheap = j.run, j.cheap()
	return st
}

// createAM3 sends HASH_I or SIG_I, encrypted, once the responder is
// authenticated, and establishes the SA.
func (x *Exchange) createAM3(env Env, v any) daemon.Result {
	s := x.SA
	if j, ok := v.(*job); ok && j.err == nil && j.cipher != nil {
		// Adopt the keys first, so that a failed verification is
		// notified under them.
		s.adoptKeys(j)
		s.logKeys(env)
	}
	j, st, ok := x.verified(env, v)
	if !ok {
		return st
	}
	ps := append(x.authPayloads(j), x.natdPayloads()...)
	out, err := x.sealAuth(ps)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	return x.establish(env, j, daemon.Result{Send: out, Log: j.log})
}
