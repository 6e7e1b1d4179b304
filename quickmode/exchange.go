package quickmode

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// Env is what the caller's loop lends an exchange for one call. Rand is
// also used from Work closures on other goroutines, so it must be safe for
// concurrent use. Tokens gives a fresh token for each engine request (the
// daemon's Context), so that the answer comes back to Resume. Log, if set,
// receives the SA keys at its keys level only.
type Env struct {
	Now    time.Time
	Rand   io.Reader
	Log    *notify.Logger
	Tokens Tokens
}

// Tokens hands out tokens for engine requests: *daemon.Context.
// An interface rather than a func field, since the method value c.Token
// was a closure allocated for every call into an exchange (an Env
// escapes), some five per SA pair.
type Tokens interface{ Token() uint64 }

// TokenFunc is a function as Tokens.
type TokenFunc func() uint64

// Token calls f.
func (f TokenFunc) Token() uint64 { return f() }

// VirtualIPs are the addresses Mode Config gave out or received, by
// ISAKMP SA (package modecfg's Store).
type VirtualIPs interface {
	// VirtualIP returns the address leased to the peer of the ISAKMP SA
	// owner (a gateway), or the one its gateway assigned us (a client).
	VirtualIP(owner daemon.Cookies) (netip.Addr, bool)
	// DNS returns the DNS servers and domain a client was given, for
	// the updown script.
	DNS(owner daemon.Cookies) ([]netip.Addr, string)
}

// virtualIP is cfg's address for the ISAKMP SA p1 (invalid: none).
func (cfg Config) virtualIP(p1 *phase1.SA) netip.Addr {
	if cfg.VirtualIPs == nil || p1 == nil {
		return netip.Addr{}
	}
	a, ok := cfg.VirtualIPs.VirtualIP(daemon.Cookies{I: p1.ICookie, R: p1.RCookie})
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// Config is what an exchange negotiates against.
type Config struct {
	Policy *policymgr.Policy
	// LifetimeMin is daemon.phase2-lifetime-min: shorter proposed
	// lifetimes are raised to it (message 59).
	LifetimeMin time.Duration
	// VirtualIPs are the Mode Config addresses (nil: no Mode Config).
	VirtualIPs VirtualIPs

	// fixedKey and fixedNonce replace the PFS key generation and the
	// nonce, for replaying recorded exchanges in tests.
	fixedKey   ikecrypto.PrivateKey
	fixedNonce []byte
}

// Exchange is one Quick Mode in one role. Its methods are called from one
// goroutine (the daemon's loop); Work closures touch copies only.
type Exchange struct {
	Role      daemon.Role
	State     State
	MessageID uint32
	// P1 is the ISAKMP SA protecting the exchange.
	P1 *phase1.SA
	// Conn is the connection the Quick Mode negotiates for; ReqID ties its
	// SAs to its kernel policies (the connection's position in the policy
	// file, from 1, as the daemon numbers trap policies).
	Conn  *policymgr.Connection
	ReqID uint32
	// Local and Remote are the traffic selectors from this host's view.
	Local, Remote policymgr.Selector
	// Chosen is the negotiated proposal, with both SPIs per protocol.
	Chosen *Chosen
	// Life is the lifetime of the SAs: seconds and kilobytes (0: none).
	Life Attrs
	// FailReason says why the exchange failed.
	FailReason string

	cfg Config
	iv  []byte
	// block is the ISAKMP SA's cipher keyed for this exchange's messages
	// (cipherBlock), dropped when the exchange ends (wipe).
	block cipher.Block
	// peerFirst is the initiator's first proposal (protocol and SPI
	// for a refusal notify before anything is chosen).
	peerFirst *isakmp.Proposal
	commit    bool // the peer set the commit bit (RFC 2408, 3.1)

	// What the initiator proposes: PFS group, encapsulation mode,
	// lifetimes.
	attrs   Attrs
	idci    *isakmp.ID
	idcr    *isakmp.ID
	sendIDs bool
	natoa   []*isakmp.NATOA
	// natMapped: UDP-encapsulated transport mode, whose selectors carry
	// the hosts' addresses as this host sees them instead of the IDs'
	// (nattransport.go); peerOA is then the peer's original address.
	natMapped bool
	peerOA    netip.Addr

	ni, nr []byte
	dh     ikecrypto.PrivateKey
	peerKE []byte
	gqmxy  []byte

	// outer are the SA endpoints (tunnel endpoints, or the hosts).
	outerLocal, outerRemote netip.Addr

	spis     spiTable // ours, allocated or awaited (AllocSPI tokens)
	workDone bool
	respLife *Attrs // the responder's lifetime notify to send

	// rekeys is the bundle this Quick Mode replaces (rekeying on a soft
	// EXPIRE); it is deleted once the new one is installed.
	rekeys *Child

	// began is when the exchange started, for the negotiation time the
	// "IPsec SA established" line reports.
	began time.Time

	bundle     *engine.Bundle
	installTok uint64
	policyTok  uint64
	policies   []engine.Policy
	child      *Child
	// newChild is the bundle the last call installed and info the
	// protected informational (CONNECTED, a Delete) it made, until taken
	// (Installed, TakeInfo).
	newChild *Child
	info     []byte
}

// errISAKMPGone rejects what arrives after the ISAKMP SA was deleted and
// its keys wiped.
var errISAKMPGone = errors.New("quickmode: the ISAKMP SA was deleted")

// Consume handles a datagram addressed to this exchange (its message ID).
// The exchange may keep data (isakmp.DecodeOwned): the caller must not
// change it afterwards.
func (x *Exchange) Consume(env Env, data []byte) daemon.Result {
	if !x.P1.Alive() {
		return daemon.Result{Reject: errISAKMPGone}
	}
	m, err := isakmp.DecodeOwned(data)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	h := m.Header
	if h.Exchange != isakmp.ExchangeQuickMode || h.MessageID != x.MessageID ||
		h.InitiatorCookie != x.P1.ICookie || h.ResponderCookie != x.P1.RCookie {
		return daemon.Result{Reject: fmt.Errorf("quickmode: %s message %#x is not of this exchange", h.Exchange, h.MessageID)}
	}
	switch x.State {
	case StateISentQM1:
		return x.consumeQM2(env, m)
	case StateRSentQM2:
		return x.consumeQM3(env, m)
	}
	return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "message"}}
}

// Resume takes a Work value or an engine.Event the exchange asked for.
func (x *Exchange) Resume(env Env, v any) daemon.Result {
	if !x.P1.Alive() {
		return daemon.Result{Reject: errISAKMPGone}
	}
	if ev, ok := v.(engine.Event); ok {
		return x.engineEvent(env, ev)
	}
	switch x.State {
	case StateIStart:
		return x.initiatorWork(env, v)
	case StateRStart:
		return x.responderWork(env, v)
	case StateIComputeQM2:
		return x.finishQM2(env, v)
	}
	return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "work result"}}
}

// TimedOut is called when our last message went unanswered. An exchange
// the peer already refused (PeerRefused) has logged its failure.
func (x *Exchange) TimedOut(env Env) daemon.Result {
	if x.State == StateFailed {
		return daemon.Result{Done: true}
	}
	st := x.fail(env, "no response from the peer", 0)
	st.Send = nil
	return st
}

// PeerRefused ends an initiator's exchange that the peer refused with an
// error notify in an informational exchange of its own (RFC 2408, 4.8;
// strongSwan answers QM1 so): messages 57 and 58 with the notify's name.
// The loop keeps retransmitting QM1 until it gives up, silently.
func (x *Exchange) PeerRefused(env Env, n isakmp.NotifyType) daemon.Result {
	if x.Role != daemon.RoleInitiator || x.State != StateISentQM1 {
		return daemon.Result{}
	}
	return x.fail(env, n.String(), 0)
}

// Pending reports an initiator waiting for QM2, and whether spi (a
// notify's, 0 if none) is one of the SPIs it proposed.
func (x *Exchange) Pending(spi uint32) (waiting, ours bool) {
	if x.Role != daemon.RoleInitiator || x.State != StateISentQM1 {
		return false, false
	}
	for _, e := range x.spis.ents {
		if e.allocated && e.spi == spi && spi != 0 {
			return true, true
		}
	}
	return true, false
}

// engineEvent routes an engine answer by state.
func (x *Exchange) engineEvent(env Env, ev engine.Event) daemon.Result {
	switch ev.Kind {
	case engine.EventSPIAllocated, engine.EventSPIFailed:
		e := x.spis.awaiting(ev.Token)
		if e == nil || (x.State != StateIStart && x.State != StateRStart) {
			return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "SPI " + ev.Kind.String()}}
		}
		e.waiting = false
		if ev.Kind == engine.EventSPIFailed {
			return x.fail(env, "inbound SPI allocation failed: "+errText(ev.Err), isakmp.NoProposalChosen)
		}
		e.spi, e.allocated = ev.SPI, true
		return x.ready(env)
	case engine.EventInstalled, engine.EventInstallFailed:
		if ev.Token != x.installTok || (x.State != StateIInstalling && x.State != StateRInstalling) {
			return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "install " + ev.Kind.String()}}
		}
		x.installTok = 0
		if ev.Kind == engine.EventInstallFailed {
			return x.installFailed(env, ev.Err)
		}
		if x.policyTok != 0 {
			// The policies come next from the engine: the bundle is up
			// only with them (fail closed).
			return daemon.Result{}
		}
		return x.installed(env)
	case engine.EventPoliciesInstalled, engine.EventPoliciesFailed:
		if ev.Token != x.policyTok || x.installTok != 0 || (x.State != StateIInstalling && x.State != StateRInstalling) {
			return daemon.Result{Reject: &phase1.WrongStateError{State: x.State, What: "policies " + ev.Kind.String()}}
		}
		x.policyTok = 0
		if ev.Kind == engine.EventPoliciesFailed {
			return x.policiesFailed(env, ev.Err)
		}
		return x.installed(env)
	}
	return daemon.Result{Reject: fmt.Errorf("quickmode: unexpected engine event %s", ev)}
}

// ready continues once the SPIs and the work a role waits for are in.
func (x *Exchange) ready(env Env) daemon.Result {
	if x.spis.waiting() || !x.workDone {
		return daemon.Result{}
	}
	if x.Role == daemon.RoleInitiator {
		return x.createQM1(env)
	}
	return x.createQM2(env)
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// fail ends the exchange: messages 57 and 58 with the reason (the notify
// type name when there is one, else the detail's first phrase), and when
// n is not 0 an informational notify to the peer protected by the ISAKMP
// SA (RFC 2409, 5.7), with message 52. The whole detail goes to the debug
// log and FailReason.
func (x *Exchange) fail(env Env, detail string, n isakmp.NotifyType) daemon.Result {
	// The catalog's reason is the notify's name, or for a local failure
	// a short phrase: the detail up to its first colon.
	reason := strings.TrimPrefix(detail, "quickmode: ")
	if i := strings.Index(reason, ": "); i > 0 {
		reason = reason[:i]
	}
	if n != 0 {
		reason = n.String()
	}
	x.FailReason = detail
	x.State = StateFailed
	st := daemon.Result{Done: true}
	st.Log = append(st.Log,
		notify.QuickModeFailed(x.P1.LocalText(), x.P1.RemoteText(), reason),
		notify.Phase2Failed(x.Role.String(), selectorText(x.Local), selectorText(x.Remote), reason))
	if env.Log != nil {
		env.Log.Debug("Quick Mode failed", msgIDField(x.MessageID), reasonField(detail))
	}
	if n != 0 {
		if out, err := x.notifyMessage(env, n); err == nil {
			st.Send = out
			st.Log = append(st.Log, notify.SendingNotification(x.P1.Remote, n.String()))
		}
	}
	x.wipe()
	return st
}

// failErr is fail with the notify the error carries (def if none).
func (x *Exchange) failErr(env Env, err error, def isakmp.NotifyType) daemon.Result {
	return x.fail(env, err.Error(), isakmp.NotifyTypeOf(err, def))
}

// notifyMessage builds the protected informational notify of a refused
// Quick Mode (RFC 2408, 3.14; RFC 2409, 5.7): protocol and SPI of the SA
// concerned when known (the first protocol of the proposal, the
// initiator's SPI), ISAKMP otherwise.
func (x *Exchange) notifyMessage(env Env, n isakmp.NotifyType) ([]byte, error) {
	k, ok := x.P1.InfoKeys()
	if !ok {
		return nil, phase1.ErrInfoNotKeyed
	}
	p := &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, NotifyType: n}
	if x.Chosen != nil && len(x.Chosen.Protos) > 0 {
		ps := x.Chosen.Protos[0]
		p.Protocol = ps.Protocol
		if x.Role == daemon.RoleResponder {
			p.SPI = spiBytes(ps.Protocol, ps.SPIOut)
		} else if ps.SPIIn != 0 {
			p.SPI = spiBytes(ps.Protocol, ps.SPIIn)
		}
	} else if x.peerFirst != nil {
		p.Protocol, p.SPI = x.peerFirst.Protocol, x.peerFirst.SPI
	}
	mid, err := isakmp.NewMessageID(env.Rand, nil)
	if err != nil {
		return nil, err
	}
	return phase1.SealInformational(k, mid, []isakmp.Payload{p})
}

// peerNotifies logs the notifies the peer put into QM2 (message 60, or 61
// for RESPONDER-LIFETIME, RFC 2407, 4.6.3.1) and adopts a responder
// lifetime shorter than ours.
func (x *Exchange) peerNotifies(ns []*isakmp.Notification) []notify.Message {
	var out []notify.Message
	remote := x.P1.Remote
	for _, n := range ns {
		if n.NotifyType != isakmp.ResponderLifetime {
			out = append(out, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data), remote, int(n.Protocol), n.SPI))
			continue
		}
		as, err := decodeAttrs(n.Data)
		if err != nil {
			out = append(out, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data), remote, int(n.Protocol), n.SPI))
			continue
		}
		a, err := parseAttrs(&isakmp.Transform{Attributes: as})
		if err != nil {
			out = append(out, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data), remote, int(n.Protocol), n.SPI))
			continue
		}
		out = append(out, notify.ResponderLifetime(int(a.LifeSeconds), int(a.LifeKBytes)))
		if a.LifeSeconds != 0 && (x.Life.LifeSeconds == 0 || a.LifeSeconds < x.Life.LifeSeconds) {
			x.Life.LifeSeconds = a.LifeSeconds
		}
		if a.LifeKBytes != 0 && (x.Life.LifeKBytes == 0 || a.LifeKBytes < x.Life.LifeKBytes) {
			x.Life.LifeKBytes = a.LifeKBytes
		}
	}
	return out
}

// defaultLifeSeconds is the IPsec SA lifetime when none is proposed (RFC
// 2407, 4.5: "the default value of 28800 seconds (8 hours) SHALL be
// assumed").
const defaultLifeSeconds = 28800

// settleLifetime is the responder's lifetime rule: below the minimum it is
// raised (message 59); when our connection's lifetime is shorter than the
// proposed one, ours is used and the initiator is told with a
// RESPONDER-LIFETIME notify (RFC 2407, 4.6.3.1). Kilobytes likewise,
// without a minimum.
func (x *Exchange) settleLifetime(proposed Attrs) []notify.Message {
	var log []notify.Message
	secs := proposed.LifeSeconds
	if secs == 0 {
		secs = defaultLifeSeconds
	}
	if min := uint64(x.cfg.LifetimeMin / time.Second); min > 0 && secs < min {
		log = append(log, notify.Phase2LifetimeShort(int(secs), int(min)))
		secs = min
	}
	var resp Attrs
	if ours := uint64(x.Conn.Lifetime / time.Second); ours > 0 && ours < secs {
		secs, resp.LifeSeconds = ours, ours
	}
	kb := proposed.LifeKBytes
	if ours := x.Conn.LifetimeKBytes; ours > 0 && (kb == 0 || ours < kb) {
		kb, resp.LifeKBytes = ours, ours
	}
	x.Life = Attrs{LifeSeconds: secs, LifeKBytes: kb}
	if resp.LifeSeconds != 0 || resp.LifeKBytes != 0 {
		if resp.LifeSeconds == 0 && proposed.LifeSeconds == 0 {
			resp.LifeSeconds = secs
		}
		x.respLife = &resp
	}
	return log
}

// responderLifetimeNotify is the RESPONDER-LIFETIME notify (RFC 2407,
// 4.6.3.1): protocol and SPI of the SA as the initiator proposed it, the
// lifetime attributes as data.
func (x *Exchange) responderLifetimeNotify() *isakmp.Notification {
	ps := x.Chosen.Protos[0]
	as := isakmp.LifeAttrs(isakmp.IPsecAttrSALifeType, isakmp.IPsecAttrSALifeDuration, x.respLife.LifeSeconds, x.respLife.LifeKBytes)
	return &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: ps.Protocol, SPI: spiBytes(ps.Protocol, ps.SPIOut),
		NotifyType: isakmp.ResponderLifetime, Data: encodeAttrs(as)}
}

// acceptableEncaps are the Encapsulation Mode values the responder takes
// for the connection: its mode, and with NAT-T negotiated in phase 1 the
// UDP-encapsulated variants (RFC 3947, 5.1; draft-02 values).
func acceptableEncaps(conn *policymgr.Connection, p1 *phase1.SA) []isakmp.EncapsulationMode {
	modes := []isakmp.EncapsulationMode{isakmp.EncapTransport}
	if conn.Tunnel {
		modes = []isakmp.EncapsulationMode{isakmp.EncapTunnel}
	}
	if p1.PeerNATT {
		if conn.Tunnel {
			modes = append(modes, isakmp.EncapUDPTunnel, isakmp.EncapUDPTunnelDraft)
		} else {
			modes = append(modes, isakmp.EncapUDPTransport, isakmp.EncapUDPTransportDraft)
		}
	}
	return modes
}

// udpEncap reports a UDP-encapsulated mode.
func udpEncap(e isakmp.EncapsulationMode) bool {
	return slices.Contains([]isakmp.EncapsulationMode{isakmp.EncapUDPTunnel, isakmp.EncapUDPTransport,
		isakmp.EncapUDPTunnelDraft, isakmp.EncapUDPTransportDraft}, e)
}

// outerEndpoints chooses the SA endpoints: in tunnel mode the local
// gateway (or the ISAKMP SA's local address) and the peer; in transport
// mode the two hosts. No usable address is message 67.
func (x *Exchange) outerEndpoints() error {
	local, remote := x.P1.Local.Addr().Unmap(), x.P1.Remote.Addr().Unmap()
	if x.Conn.Tunnel && x.Conn.LocalGW.IsValid() {
		local = x.Conn.LocalGW.Unmap()
	}
	if !local.IsValid() || local.IsUnspecified() || !remote.IsValid() || remote.IsUnspecified() || local.Is4() != remote.Is4() {
		return notify.NoTunnelEndpoints(x.Conn.Name)
	}
	x.outerLocal, x.outerRemote = local, remote
	return nil
}

// reqIDOf is the connection's position in the policy, from 1: the reqid of
// its trap policies (daemon.PolicyLoader numbers them so).
func reqIDOf(p *policymgr.Policy, c *policymgr.Connection) uint32 {
	if p != nil {
		if i := slices.Index(p.Connections, c); i >= 0 {
			return uint32(i + 1)
		}
	}
	return 0
}

// allocSPIs asks the engine for one inbound SPI per protocol (RFC 2408,
// 2.4: the receiver chooses the SPI), before QM1 or QM2 is sent.
func (x *Exchange) allocSPIs(env Env, protos []isakmp.ProtocolID) []engine.Request {
	x.spis.reset()
	reqs := make([]engine.Request, 0, len(protos))
	for _, p := range protos {
		tok := env.Tokens.Token()
		x.spis.await(p, tok)
		reqs = append(reqs, &engine.AllocSPI{Token: tok, Protocol: engineProto(p), Src: x.outerRemote, Dst: x.outerLocal, ReqID: x.ReqID})
	}
	return reqs
}

// spiTable is our inbound SPI per protocol of an exchange and the
// AllocSPI requests still unanswered: a bundle has at most three
// protocols (ESP, AH, IPComp), so a short list in the exchange serves
// where two maps cost four allocations.
type spiTable struct {
	ents []spiEntry
	buf  [3]spiEntry
}

type spiEntry struct {
	proto     isakmp.ProtocolID
	token     uint64 // the AllocSPI request's
	spi       uint32
	waiting   bool // for the answer to token
	allocated bool // spi is ours
}

// reset forgets every protocol (allocSPIs starts over).
func (t *spiTable) reset() {
	t.buf = [3]spiEntry{}
	t.ents = t.buf[:0]
}

// await records the AllocSPI request tok for protocol p. The protocols
// given to allocSPIs are distinct (protocolsOf; chooseChain refuses a
// protocol twice), so that get has one SPI per protocol to find.
func (t *spiTable) await(p isakmp.ProtocolID, tok uint64) {
	t.ents = append(t.ents, spiEntry{proto: p, token: tok, waiting: true})
}

// awaiting returns the entry waiting for the answer to tok, or nil.
func (t *spiTable) awaiting(tok uint64) *spiEntry {
	for i := range t.ents {
		if e := &t.ents[i]; e.waiting && e.token == tok {
			return e
		}
	}
	return nil
}

// waiting reports whether an AllocSPI request is unanswered.
func (t *spiTable) waiting() bool {
	for _, e := range t.ents {
		if e.waiting {
			return true
		}
	}
	return false
}

// get returns our SPI for protocol p, if allocated.
func (t *spiTable) get(p isakmp.ProtocolID) (uint32, bool) {
	for _, e := range t.ents {
		if e.proto == p && e.allocated {
			return e.spi, true
		}
	}
	return 0, false
}

// engineProto maps a DOI protocol ID to the engine's IP protocol number.
func engineProto(p isakmp.ProtocolID) engine.Protocol {
	switch p {
	case isakmp.ProtoAH:
		return engine.ProtoAH
	case isakmp.ProtoIPCOMP:
		return engine.ProtoIPComp
	}
	return engine.ProtoESP
}

// wipe forgets the exchange's secrets.
func (x *Exchange) wipe() {
	x.block = nil
	clear(x.gqmxy)
	if x.dh != nil {
		ikecrypto.WipePrivateKey(x.dh)
	}
	x.gqmxy, x.dh = nil, nil
}

// cipherBlock returns the ISAKMP SA's block cipher for this exchange's
// messages. ikecrypto's Cipher builds its key schedule at each call, so
// that an idle ISAKMP SA keeps none (about 500 bytes for AES); a Quick
// Mode builds it once for its three messages and drops it when it ends.
func (x *Exchange) cipherBlock() cipher.Block {
	if x.block == nil {
		x.block = x.P1.Cipher().Block()
	}
	return x.block
}

// dhWork is the Diffie-Hellman part of a Quick Mode, run off the loop: our
// nonce, our PFS key and, when the peer's value is known, g^xy.
type dhWork struct {
	nonce []byte
	key   ikecrypto.PrivateKey
	gxy   []byte
	err   error
}

// newDHWork returns the Work closure: nonce (always), key (group != 0 and
// key nil), secret (peer set). Its inputs are copies.
func newDHWork(rand io.Reader, nonceLen int, group isakmp.GroupDescription, key ikecrypto.PrivateKey, peer []byte, fixedKey ikecrypto.PrivateKey, fixedNonce []byte) func() any {
	return func() any {
		w := &dhWork{key: key}
		if nonceLen > 0 {
			if fixedNonce != nil {
				w.nonce = fixedNonce
			} else {
				w.nonce = make([]byte, nonceLen)
				if _, err := io.ReadFull(rand, w.nonce); err != nil {
					w.err = err
					return w
				}
			}
		}
		if group == 0 {
			return w
		}
		if w.key == nil {
			if fixedKey != nil {
				w.key = fixedKey
			} else {
				g, err := ikecrypto.NewGroup(ikecrypto.GroupID(group))
				if err != nil {
					w.err = fmt.Errorf("%w: %v", isakmp.NoProposalChosen, err)
					return w
				}
				if w.key, err = g.Generate(rand); err != nil {
					w.err = err
					return w
				}
			}
		}
		if peer != nil {
			gxy, err := w.key.SharedSecret(peer)
			if err != nil {
				w.err = fmt.Errorf("%w: %v", isakmp.InvalidKeyInformation, err)
				return w
			}
			w.gxy = gxy
		}
		return w
	}
}

// nonceLen is the length of our nonces: 32 bytes, as strongSwan sends.
const nonceLen = 32

// Installed returns the bundle the last call installed, once.
func (x *Exchange) Installed() *Child {
	c := x.newChild
	x.newChild = nil
	return c
}

// TakeInfo returns the protected informational message (CONNECTED, a
// Delete) the last call made, once. It goes to the peer as an exchange of
// its own, so that it does not take the place of the reply the loop keeps
// for retransmitted requests.
func (x *Exchange) TakeInfo() []byte {
	b := x.info
	x.info = nil
	return b
}

// Failed reports whether the exchange failed.
func (x *Exchange) Failed() bool { return x.State == StateFailed }
