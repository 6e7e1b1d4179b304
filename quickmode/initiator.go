package quickmode

import (
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// NewInitiator begins a Quick Mode for conn on the established ISAKMP SA
// p1 with message ID mid (RFC 2409, 5.5: chosen at random by the
// initiator). The first daemon.Result is Work (our nonce and PFS key); its value,
// given to Resume, asks the engine for our SPIs, and the last SPI sends
// QM1.
func NewInitiator(env Env, cfg Config, p1 *phase1.SA, conn *policymgr.Connection, mid uint32) (*Exchange, daemon.Result, error) {
	if p1 == nil || p1.State != phase1.StateEstablished || !p1.Alive() {
		return nil, daemon.Result{}, fmt.Errorf("quickmode: the ISAKMP SA is not established")
	}
	if conn == nil || conn.IKE == nil || conn.ProposalList == nil || len(conn.ProposalList.Proposals) == 0 {
		return nil, daemon.Result{}, fmt.Errorf("quickmode: connection has no proposal list")
	}
	if mid == 0 {
		return nil, daemon.Result{}, fmt.Errorf("quickmode: message ID 0")
	}
	x := &Exchange{Role: daemon.RoleInitiator, State: StateIStart, MessageID: mid, P1: p1, Conn: conn,
		ReqID: reqIDOf(cfg.Policy, conn), cfg: cfg, sendIDs: true, began: env.Now}
	x.Local, x.Remote = conn.Local, conn.Remote
	if mc := conn.ModeConfig; conn.Tunnel && mc != nil {
		// A Mode Config client's traffic comes from the address its
		// gateway assigned (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2); a
		// gateway (rekeying as initiator) proposes the peer's lease.
		if a := cfg.virtualIP(p1); a.IsValid() && mc.Request {
			x.Local.Addr = policymgr.HostRange(a)
		} else if a.IsValid() && mc.Pool != nil {
			x.Remote.Addr = policymgr.HostRange(a)
		}
	}
	if !conn.Tunnel {
		// Transport mode is between the hosts themselves (RFC 2401, 4.1).
		if x.Local.Addr.IsAny() {
			x.Local.Addr = policymgr.HostRange(p1.Local.Addr().Unmap())
		}
		if x.Remote.Addr.IsAny() {
			x.Remote.Addr = policymgr.HostRange(p1.Remote.Addr().Unmap())
		}
	}
	if err := x.outerEndpoints(); err != nil {
		x.State = StateFailed
		st := x.fail(env, err.Error(), 0)
		return nil, daemon.Result{Log: append([]notify.Message{err.(notify.Message)}, st.Log...)}, err
	}
	nat := p1.LocalBehindNAT || p1.RemoteBehindNAT
	natt := phase1.PeerExtensions(p1.VendorIDs).NATT
	if !p1.PeerNATT {
		natt = phase1.NATTNone
	}
	x.attrs = Attrs{Group: conn.PFS, Encap: natt.EncapsulationMode(conn.Tunnel, nat),
		LifeSeconds: uint64(conn.Lifetime.Seconds()), LifeKBytes: conn.LifetimeKBytes}
	x.Life = Attrs{LifeSeconds: x.attrs.LifeSeconds, LifeKBytes: x.attrs.LifeKBytes}
	v6 := x.outerLocal.Is6()
	var err error
	if x.idci, err = idOf(x.Local, v6); err != nil {
		return nil, daemon.Result{}, err
	}
	if x.idcr, err = idOf(x.Remote, v6); err != nil {
		return nil, daemon.Result{}, err
	}
	if !conn.Tunnel && udpEncap(x.attrs.Encap) {
		// RFC 3947, 5.2: transport mode behind a NAT sends the original
		// addresses, ours then the responder's as we know it.
		x.natoa = []*isakmp.NATOA{natt.NATOA(p1.Local.Addr()), natt.NATOA(p1.Remote.Addr())}
		// The IDs stay as configured; the kernel's selectors are the
		// hosts (nattransport.go).
		x.peerOA = originalAddr(nil, 0, x.Remote)
		x.Local, x.Remote = x.toHosts(x.Local, x.Remote)
		x.natMapped = true
	}
	return x, daemon.Result{Work: newDHWork(env.Rand, nonceLen, conn.PFS, nil, nil, cfg.fixedKey, cfg.fixedNonce), Cheap: conn.PFS == 0}, nil
}

// initiatorWork takes Ni and our PFS key and asks for our SPIs.
func (x *Exchange) initiatorWork(env Env, v any) daemon.Result {
	w, ok := v.(*dhWork)
	if !ok || x.workDone {
		return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "work result"}}
	}
	if w.err != nil {
		return x.fail(env, "nonce or key generation failed: "+w.err.Error(), 0)
	}
	x.ni, x.dh, x.workDone = w.nonce, w.key, true
	return daemon.Result{Engine: x.allocSPIs(env, protocolsOf(x.Conn.ProposalList))}
}

// createQM1 sends HDR*, HASH(1), SA, Ni [, KE], IDci, IDcr [, NAT-OA]
// (RFC 2409, 5.5), HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [| KE] | IDci |
// IDcr ...), under the IV H(last phase 1 block | M-ID).
func (x *Exchange) createQM1(env Env) daemon.Result {
	sa, err := offer(x.Conn.ProposalList, &x.spis, x.attrs)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	// HASH(1) first, once the rest is encoded; room on the stack for all
	// (Seal and EncodeChain keep none of the slice).
	var buf [8]isakmp.Payload
	ps := append(buf[:1], sa, &isakmp.Nonce{Data: x.ni})
	if x.dh != nil {
		ps = append(ps, &isakmp.KE{Data: x.dh.PublicBytes()})
	}
	if x.sendIDs {
		ps = append(ps, x.idci, x.idcr)
	}
	for _, n := range x.natoa {
		ps = append(ps, n)
	}
	rest, err := isakmp.EncodeChain(ps[1:])
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	hash := ikecrypto.QuickModeHash1(x.P1.PRF, x.P1.SKEYIDa(), x.MessageID, rest)
	iv := ikecrypto.Phase2IV(x.P1.PRF, x.P1.LastBlock(), x.MessageID, x.P1.Cipher().BlockSize())
	ps[0] = &isakmp.Hash{Data: hash}
	out, next, err := seal(x.header(), ps, x.cipherBlock(), iv)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	x.iv = next
	x.State = StateISentQM1
	return daemon.Result{Send: out, Request: true}
}

func (x *Exchange) header() isakmp.Header {
	return isakmp.Header{InitiatorCookie: x.P1.ICookie, ResponderCookie: x.P1.RCookie,
		Exchange: isakmp.ExchangeQuickMode, MessageID: x.MessageID}
}

// consumeQM2 checks HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] (RFC 2409,
// 5.5): HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr ...), then the
// responder's choice against our offer, its KE with PFS, its IDs against
// ours, and its notifies.
func (x *Exchange) consumeQM2(env Env, m *isakmp.Message) daemon.Result {
	next, err := open(m, x.cipherBlock(), x.iv)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	h, rest, err := hashFirst(m)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	if err := verify(h.Data, ikecrypto.QuickModeHash2(x.P1.PRF, x.P1.SKEYIDa(), x.MessageID, x.ni, rest)); err != nil {
		return daemon.Result{Reject: err}
	}
	x.iv = next
	x.commit = m.Header.Flags&isakmp.FlagCommit != 0
	r, err := sortQM(m.Payloads[1:])
	if err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	log := x.peerNotifies(r.notifies)
	c, err := accept(r.sa, x.Conn.ProposalList, &x.spis, x.attrs)
	if err != nil {
		return x.withLog(log, x.failErr(env, err, isakmp.NoProposalChosen))
	}
	x.Chosen = c
	x.nr = r.nonce.Data
	switch {
	case x.attrs.Group != 0 && r.ke == nil:
		return x.withLog(log, x.fail(env, "PFS required but the responder sent no KE", isakmp.InvalidKeyInformation))
	case x.attrs.Group == 0 && r.ke != nil:
		return x.withLog(log, x.fail(env, "KE payload without PFS", isakmp.InvalidPayloadType))
	}
	if len(r.ids) == 2 {
		ci, err1 := selectorOf(r.ids[0])
		cr, err2 := selectorOf(r.ids[1])
		if x.natMapped {
			// A responder through a NAT may answer with the addresses
			// as it sees them (strongSwan does): only protocols and
			// ports must be ours (nattransport.go).
			ci, cr = x.toHosts(ci, cr)
		}
		if err1 != nil || err2 != nil || !sameSelector(ci, x.Local) || !sameSelector(cr, x.Remote) {
			return x.withLog(log, x.fail(env, "the responder returned other identities than we proposed", isakmp.InvalidIDInformation))
		}
	}
	if len(r.natoa) == 2 && x.natMapped && r.natoa[1].Addr.IsValid() {
		x.peerOA = r.natoa[1].Addr.Unmap() // NAT-OAr (RFC 3947, 5.2)
	}
	if r.ke == nil {
		return x.withLog(log, x.finishQM2(env, &dhWork{}))
	}
	x.peerKE = r.ke.Data
	x.State = StateIComputeQM2
	return daemon.Result{Log: log, Work: newDHWork(env.Rand, 0, x.attrs.Group, x.dh, x.peerKE, nil, nil), Cheap: x.attrs.Group == 0}
}

func (x *Exchange) withLog(log []notify.Message, st daemon.Result) daemon.Result {
	st.Log = append(log, st.Log...)
	return st
}

// finishQM2 takes g^xy (with PFS), derives the keys, sends QM3: HDR*,
// HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b), and installs the bundle.
func (x *Exchange) finishQM2(env Env, v any) daemon.Result {
	w, ok := v.(*dhWork)
	if !ok {
		return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "work result"}}
	}
	if w.err != nil {
		return x.failErr(env, w.err, isakmp.InvalidKeyInformation)
	}
	x.gqmxy = w.gxy
	if err := x.buildBundle(env); err != nil {
		return x.fail(env, err.Error(), isakmp.NoProposalChosen)
	}
	hash := ikecrypto.QuickModeHash3(x.P1.PRF, x.P1.SKEYIDa(), x.MessageID, x.ni, x.nr)
	out, next, err := seal(x.header(), []isakmp.Payload{&isakmp.Hash{Data: hash}}, x.cipherBlock(), x.iv)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	x.iv = next
	x.State = StateIInstalling
	return daemon.Result{Send: out, Engine: x.install(env)}
}
