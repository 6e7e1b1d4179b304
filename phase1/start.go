package phase1

import (
	"fmt"
	"net/netip"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// NewInitiator begins phase 1 of conn towards remote (RFC 2409, 5): Main
// Mode sends MM1 at once; Aggressive Mode first asks for its DH key (Work)
// and sends AM1 from Resume. icookie is the initiator cookie the caller
// chose (RFC 2408, 2.5.3: unique, random).
func NewInitiator(env Env, cfg Config, conn *policymgr.Connection, icookie [8]byte, local, remote netip.AddrPort) (*Exchange, daemon.Result, error) {
	if conn == nil || conn.IKE == nil {
		return nil, daemon.Result{}, fmt.Errorf("phase1: connection has no IKE settings")
	}
	if len(conn.IKE.Transforms) == 0 {
		return nil, daemon.Result{}, fmt.Errorf("phase1: connection %q has no phase 1 transform", conn.Name)
	}
	s := &SA{Handshake: &Handshake{}, ICookie: icookie, Role: daemon.RoleInitiator, Mode: conn.IKE.Mode, Conn: conn, Policy: cfg.Policy,
		Local: local, Remote: remote, Created: env.Now}
	s.Offered = offer(conn)
	s.LocalID = localID(conn, local.Addr())
	s.LocalIDText = idText(s.LocalID)
	x := &Exchange{SA: s, cfg: cfg}
	switch s.Mode {
	case isakmp.ExchangeMain:
		st := x.createMM1(env)
		return x, st, nil
	case isakmp.ExchangeAggressive:
		return x, x.startAM1(env), nil
	}
	return nil, daemon.Result{}, fmt.Errorf("phase1: connection %q: mode %s", conn.Name, s.Mode)
}

// NewResponder handles the first message of a Main or Aggressive Mode
// exchange, with the responder cookie the caller chose. It returns nil
// (and a daemon.Result to carry out: a notify and messages 41/46/52/54, or a
// Reject) when the message cannot start an exchange, so that no state is
// kept for such a peer. The exchange may keep data (isakmp.DecodeOwned):
// the caller must not change it afterwards.
func NewResponder(env Env, cfg Config, icookie, rcookie [8]byte, local, remote netip.AddrPort, data []byte) (*Exchange, daemon.Result) {
	m, err := isakmp.DecodeOwned(data)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	h := m.Header
	if h.MessageID != 0 || h.ResponderCookie != [8]byte{} || h.InitiatorCookie != icookie || h.Flags&isakmp.FlagEncryption != 0 {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: not a first message")}
	}
	if h.Exchange != isakmp.ExchangeMain && h.Exchange != isakmp.ExchangeAggressive {
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: %s does not start phase 1", h.Exchange)}
	}
	s := &SA{Handshake: &Handshake{}, ICookie: icookie, RCookie: rcookie, Role: daemon.RoleResponder, Mode: h.Exchange, Policy: cfg.Policy,
		Local: local, Remote: remote, Created: env.Now}
	x := &Exchange{SA: s, cfg: cfg}
	if !hasIKE(cfg.Policy) {
		// No policy, or one without a phase 1 connection (a reload left
		// none): message 53, where 54 would say that other peers have one.
		return nil, daemon.Result{Log: []notify.Message{notify.NoPolicyLoaded()}, Reject: fmt.Errorf("phase1: no security policy")}
	}
	r, err := sortPayloads(m.Payloads)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	if len(m.Payloads) == 0 || m.Payloads[0].Type() != isakmp.PayloadSA || r.sa == nil {
		// RFC 2409, 5: "The SA payload MUST precede all other payloads in a
		// phase 1 exchange."
		return nil, daemon.Result{Reject: fmt.Errorf("phase1: first message does not start with an SA payload")}
	}
	all := connectionsFor(cfg.Policy, local.Addr(), remote.Addr())
	if len(all) == 0 {
		st := x.fail(env, "no policy for this peer", isakmp.NoProposalChosen)
		st.Log = append([]notify.Message{notify.SPDRejected(x.SA.LocalText(), x.SA.RemoteText())}, st.Log...)
		return nil, st
	}
	x.candidates = inMode(all, s.Mode)
	if len(x.candidates) == 0 {
		// A connection answers only the mode it names (ike.mode): an
		// Aggressive Mode AM1 for a main-only peer gets no KE and no
		// HASH_R (an offline dictionary attack on the pre-shared key
		// needs only HASH_R: ike-scan --pskcrack), and no DH work is
		// queued for it.
		return nil, x.fail(env, modeRefused(s.Mode, all), isakmp.NoProposalChosen)
	}
	if s.Mode == isakmp.ExchangeMain {
		return x, x.consumeMM1(env, m, r)
	}
	return x, x.consumeAM1(env, m, r)
}

// peerVendorIDs records the Vendor IDs of the peer's first message.
func (x *Exchange) peerVendorIDs(r *received) {
	x.SA.VendorIDs = r.vids
	x.SA.PeerFragmentation = PeerExtensions(r.vids).Fragmentation
	if x.cfg.Hooks.PeerVendorIDs != nil {
		x.cfg.Hooks.PeerVendorIDs(x.SA, r.vids)
	}
}

// vendorIDPayloads returns the Vendor ID payloads of our first message:
// the hook's, then FRAGMENTATION when the connection uses it
// (fragmentation.go).
func (x *Exchange) vendorIDPayloads() []isakmp.Payload {
	if x.cfg.Hooks.VendorIDs == nil {
		return nil
	}
	var ps []isakmp.Payload
	for _, v := range x.cfg.Hooks.VendorIDs(x.SA) {
		ps = append(ps, &isakmp.VendorID{Data: v})
	}
	if x.announceFragmentation() {
		ps = append(ps, &isakmp.VendorID{Data: vidFragmentation})
	}
	return ps
}

// natdPayloads returns our NAT-D payloads (RFC 3947, 3.2), if the hook
// says the peer speaks NAT-T.
func (x *Exchange) natdPayloads() []isakmp.Payload {
	if x.cfg.Hooks.NATD == nil {
		return nil
	}
	return x.cfg.Hooks.NATD(x.SA)
}

// peerNATD hands the peer's NAT-D payloads to the NAT-T hook.
func (x *Exchange) peerNATD(r *received) error {
	if x.cfg.Hooks.PeerNATD == nil || len(r.natd) == 0 {
		return nil
	}
	return x.atArrival(func() error { return x.cfg.Hooks.PeerNATD(x.SA, r.natd) })
}

// chooseFor runs the responder's proposal choice for the first message and
// settles the SA's transform and connection; on failure it returns the
// reason naming what did not match.
func (x *Exchange) chooseFor(r *received, id *isakmp.ID) ([]notify.Message, error) {
	s := x.SA
	offered, nums, err := offeredTransforms(r.sa)
	if err != nil {
		return nil, err
	}
	s.Offered = offered
	c, ok := choose(offered, nums, x.candidates, id)
	if !ok {
		if id != nil {
			if _, any := choose(offered, nums, x.candidates, nil); any {
				return []notify.Message{notify.NoPolicyFor(x.SA.LocalText(), idText(id))},
					fmt.Errorf("%w: no connection for identity %s", isakmp.InvalidIDInformation, idText(id))
			}
		}
		return nil, fmt.Errorf("%w: %s", isakmp.NoProposalChosen, explainMismatch(offered, x.candidates))
	}
	s.Conn, s.Transform, s.TransformNumber = c.conn, c.t, c.number
	s.SAiB = r.sa.Raw
	msgs := capLifetime(&s.Transform, c.conn)
	return append(msgs, settleLifetime(&s.Transform, c.conn, lifetimeMin(s.Policy))...), nil
}

// notePeer records what any of the peer's messages may carry besides the
// exchange's own payloads: a certificate request (strongSwan sends its
// CR with MM5 as initiator, with MM4 as responder) and INITIAL-CONTACT
// (RFC 2407, 4.6.3.3), which the informational code acts on once the SA
// is established.
func (x *Exchange) notePeer(r *received) {
	s := x.SA
	s.peerCR = s.peerCR || len(r.crs) > 0
	for _, n := range r.notify {
		if n.NotifyType == isakmp.InitialContact {
			s.PeerInitialContact = true
		}
	}
}

// authExtras returns the payloads the hook adds to our authenticating
// message (MM5/MM6, AM2/AM3), e.g. INITIAL-CONTACT.
func (x *Exchange) authExtras() []isakmp.Payload {
	var ps []isakmp.Payload
	if x.cfg.Hooks.AuthPayloads != nil {
		ps = x.cfg.Hooks.AuthPayloads(x.SA)
	}
	if n := x.initialContact(); n != nil {
		ps = append(ps, n)
	}
	return ps
}

// initialContact returns the INITIAL-CONTACT notify (RFC 2407, 4.6.3.3)
// for our MM5 or AM3 when we initiate and hold no other established SA
// with the peer, as strongSwan does (its MM5: "ID_PROT request 0 [ ID HASH
// N(INITIAL_CONTACT) ]"). It must travel inside phase 1: strongSwan acts
// on INITIAL-CONTACT only when it arrives before the new SA is
// established (its IKE SA manager checks uniqueness once, at the first
// check-in as established), so an informational sent afterwards would
// leave its stale SAs in place. As responder we send none, like
// strongSwan.
func (x *Exchange) initialContact() *isakmp.Notification {
	s := x.SA
	if s.Role != daemon.RoleInitiator || x.contact == nil || x.contact(s) {
		return nil
	}
	k := InfoKeys{ICookie: s.ICookie, RCookie: s.RCookie}
	return k.InitialContact()
}
