package quickmode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// NewResponder handles QM1 (RFC 2409, 5.5): HDR*, HASH(1), SA, Ni [, KE]
// [, IDci, IDcr] on the established ISAKMP SA p1. A message that does not
// decrypt or whose HASH(1) does not verify is rejected with no state kept
// (nil exchange, daemon.Result.Reject). A negotiation failure (selectors, no
// proposal) returns a nil exchange too, with the notify to send and
// messages 54/63/64, 56, 57, 58, 52 in daemon.Result. Otherwise the exchange asks
// for Nr, the PFS work and our SPIs, and sends QM2 once they are in. The
// exchange may keep data (isakmp.DecodeOwned): the caller must not change
// it afterwards.
func NewResponder(env Env, cfg Config, p1 *phase1.SA, data []byte) (*Exchange, daemon.Result) {
	if p1 == nil || p1.State != phase1.StateEstablished || !p1.Alive() {
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: Quick Mode on an ISAKMP SA that is not established")}
	}
	m, err := isakmp.DecodeOwned(data)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	h := m.Header
	if h.Exchange != isakmp.ExchangeQuickMode || h.MessageID == 0 ||
		h.InitiatorCookie != p1.ICookie || h.ResponderCookie != p1.RCookie {
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: not a Quick Mode first message")}
	}
	iv := ikecrypto.Phase2IV(p1.PRF, p1.LastBlock(), h.MessageID, p1.Cipher().BlockSize())
	block := p1.Cipher().Block()
	next, err := open(m, block, iv)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	hp, rest, err := hashFirst(m)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	if err := verify(hp.Data, ikecrypto.QuickModeHash1(p1.PRF, p1.SKEYIDa(), h.MessageID, rest)); err != nil {
		return nil, daemon.Result{Reject: err}
	}
	x := &Exchange{Role: daemon.RoleResponder, State: StateRStart, MessageID: h.MessageID, P1: p1, cfg: cfg, iv: next, block: block,
		commit: h.Flags&isakmp.FlagCommit != 0, began: env.Now}
	// Until the IDs are read, messages name the ISAKMP SA's hosts.
	x.Local = policymgr.Selector{Addr: policymgr.HostRange(p1.Local.Addr().Unmap())}
	x.Remote = policymgr.Selector{Addr: policymgr.HostRange(p1.Remote.Addr().Unmap())}
	st := x.consumeQM1(env, m)
	if x.Failed() {
		return nil, st
	}
	return x, st
}

func (x *Exchange) consumeQM1(env Env, m *isakmp.Message) daemon.Result {
	r, err := sortQM(m.Payloads[1:])
	if err != nil {
		return x.failErr(env, err, isakmp.PayloadMalformed)
	}
	x.ni = r.nonce.Data
	if len(r.sa.Proposals) > 0 {
		x.peerFirst = r.sa.Proposals[0]
	}
	var log []notify.Message
	for _, n := range r.notifies {
		log = append(log, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data),
			x.P1.Remote, int(n.Protocol), n.SPI))
	}
	if len(r.ids) == 2 {
		// RFC 2409, 5.5: IDci is the initiator's side.
		remote, err1 := selectorOf(r.ids[0])
		local, err2 := selectorOf(r.ids[1])
		if err := errors.Join(err1, err2); err != nil {
			return x.withLog(log, x.failErr(env, err, isakmp.InvalidIDInformation))
		}
		x.Remote, x.Local = remote, local
		x.idci, x.idcr, x.sendIDs = r.ids[0], r.ids[1], true
	}
	if x.P1.PeerNATT && proposesNATTransport(r.sa) {
		x.mapNATTransport(env, r.natoa)
	}
	match, err := x.cfg.Policy.QuickMode(x.P1.Conn, x.P1.Remote.Addr(), x.cfg.virtualIP(x.P1), x.Local, x.Remote)
	if err != nil {
		var msg notify.Message
		if errors.As(err, &msg) {
			log = append(log, msg)
			if why, ok := strings.CutPrefix(err.Error(), msg.Text+": "); ok {
				// A road warrior limit (policymgr.WarriorLimit) refused:
				// say which, beside message 54's fixed text.
				log = append(log, notify.Message{Level: notify.LevelNotice, Text: "Quick Mode selectors refused: " + why})
			}
		}
		return x.withLog(log, x.fail(env, "no connection for the proposed selectors: "+err.Error(), isakmp.InvalidIDInformation))
	}
	x.Conn, x.Local, x.Remote = match.Conn, match.Local, match.Remote
	x.ReqID = reqIDOf(x.cfg.Policy, x.Conn)
	if x.Conn.ProposalList == nil || len(x.Conn.ProposalList.Proposals) == 0 {
		return x.withLog(log, x.fail(env, "the connection has no proposal list", isakmp.NoProposalChosen))
	}
	sel := Selection{List: x.Conn.ProposalList, Group: x.Conn.PFS, Encaps: acceptableEncaps(x.Conn, x.P1)}
	c, why := choose(r.sa, sel)
	if c == nil {
		log = append(log, notify.Phase2NoProtocols(1))
		return x.withLog(log, x.fail(env, "no proposal chosen: "+why, isakmp.NoProposalChosen))
	}
	x.Chosen = c
	if natTransportMode(chosenEncap(c)) != x.natMapped {
		// The selectors were matched for another mode than the one
		// chosen (a first proposal of UDP-encapsulated transport, then
		// another one chosen, or the reverse).
		return x.withLog(log, x.fail(env, "no proposal chosen: the chosen encapsulation mode is not the one the first proposal asked for", isakmp.NoProposalChosen))
	}
	switch {
	case sel.Group != 0 && r.ke == nil:
		return x.withLog(log, x.fail(env, "PFS required but the initiator sent no KE", isakmp.InvalidKeyInformation))
	case sel.Group == 0 && r.ke != nil:
		return x.withLog(log, x.fail(env, "KE payload without PFS", isakmp.InvalidPayloadType))
	}
	if r.ke != nil {
		x.peerKE = r.ke.Data
	}
	log = append(log, x.settleLifetime(c.Protos[0].Attrs)...)
	if err := x.outerEndpoints(); err != nil {
		log = append(log, err.(notify.Message))
		return x.withLog(log, x.fail(env, "no tunnel endpoints", isakmp.NoProposalChosen))
	}
	if !x.Conn.Tunnel && len(r.natoa) > 0 {
		natt := phase1.PeerExtensions(x.P1.VendorIDs).NATT
		x.natoa = []*isakmp.NATOA{natt.NATOA(x.P1.Remote.Addr()), natt.NATOA(x.P1.Local.Addr())}
	}
	var buf [3]isakmp.ProtocolID // allocSPIs keeps none of them
	protos := buf[:0]
	for _, p := range c.Protos {
		protos = append(protos, p.Protocol)
	}
	work := newDHWork(env.Rand, nonceLen, sel.Group, nil, x.peerKE, x.cfg.fixedKey, x.cfg.fixedNonce)
	return daemon.Result{Log: log, Work: work, Cheap: sel.Group == 0, Engine: x.allocSPIs(env, protos)}
}

// responderWork takes Nr, our PFS key and g^xy.
func (x *Exchange) responderWork(env Env, v any) daemon.Result {
	w, ok := v.(*dhWork)
	if !ok || x.workDone {
		return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "work result"}}
	}
	if w.err != nil {
		return x.failErr(env, w.err, isakmp.InvalidKeyInformation)
	}
	x.nr, x.dh, x.gqmxy, x.workDone = w.nonce, w.key, w.gxy, true
	return x.ready(env)
}

// createQM2 sends HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [,
// N(RESPONDER-LIFETIME)] [, NAT-OA] (RFC 2409, 5.5), the SA being the
// chosen proposal with our SPIs and the initiator's transforms as
// proposed. It is retransmitted until QM3 arrives.
func (x *Exchange) createQM2(env Env) daemon.Result {
	sa := &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SitIdentityOnly}
	for _, p := range x.Chosen.Protos {
		p.SPIIn, _ = x.spis.get(p.Protocol)
		t := &isakmp.Transform{Number: p.Wire.Number, ID: p.Wire.ID, Attributes: p.Wire.Attributes}
		sa.Proposals = append(sa.Proposals, &isakmp.Proposal{Number: x.Chosen.Number, Protocol: p.Protocol,
			SPI: spiBytes(p.Protocol, p.SPIIn), Transforms: []*isakmp.Transform{t}})
	}
	// HASH(2) first, once the rest is encoded; room on the stack for all
	// (Seal and EncodeChain keep none of the slice).
	var buf [10]isakmp.Payload
	ps := append(buf[:1], sa, &isakmp.Nonce{Data: x.nr})
	if x.dh != nil {
		ps = append(ps, &isakmp.KE{Data: x.dh.PublicBytes()})
	}
	if x.sendIDs {
		ps = append(ps, &isakmp.ID{IDType: x.idci.IDType, Protocol: x.idci.Protocol, Port: x.idci.Port, Data: x.idci.Data},
			&isakmp.ID{IDType: x.idcr.IDType, Protocol: x.idcr.Protocol, Port: x.idcr.Port, Data: x.idcr.Data})
	}
	if x.respLife != nil {
		ps = append(ps, x.responderLifetimeNotify())
	}
	for _, n := range x.natoa {
		ps = append(ps, n)
	}
	rest, err := isakmp.EncodeChain(ps[1:])
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	hash := ikecrypto.QuickModeHash2(x.P1.PRF, x.P1.SKEYIDa(), x.MessageID, x.ni, rest)
	ps[0] = &isakmp.Hash{Data: hash}
	out, next, err := seal(x.header(), ps, x.cipherBlock(), x.iv)
	if err != nil {
		return x.fail(env, err.Error(), 0)
	}
	x.iv = next
	x.State = StateRSentQM2
	st := daemon.Result{Send: out, Request: true}
	if x.respLife != nil {
		// Our shorter lifetime changes the negotiation: message 52.
		st.Log = append(st.Log, notify.SendingNotification(x.P1.Remote, isakmp.ResponderLifetime.String()))
	}
	return st
}

// consumeQM3 checks HDR*, HASH(3) (RFC 2409, 5.5) and installs the bundle.
func (x *Exchange) consumeQM3(env Env, m *isakmp.Message) daemon.Result {
	next, err := open(m, x.cipherBlock(), x.iv)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	h, _, err := hashFirst(m)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	if err := verify(h.Data, ikecrypto.QuickModeHash3(x.P1.PRF, x.P1.SKEYIDa(), x.MessageID, x.ni, x.nr)); err != nil {
		return daemon.Result{Reject: err}
	}
	x.iv = next
	if err := x.buildBundle(env); err != nil {
		return x.fail(env, err.Error(), isakmp.NoProposalChosen)
	}
	x.State = StateRInstalling
	return daemon.Result{Engine: x.install(env)}
}
