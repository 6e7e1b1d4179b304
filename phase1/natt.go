package phase1

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// NAT traversal for IKEv1 (RFC 3947, and the draft-ietf-ipsec-nat-t-ike-02
// and -03 that strongSwan, racoon and Windows still announce): both ends
// announce support with a Vendor ID in the first messages, exchange NAT-D
// hashes of the addresses each sees in MM3/MM4 (AM1/AM2, AM2/AM3), and when
// a NAT sits between them move to port 4500 from MM5 (AM3) on, so that ESP
// can travel in UDP (RFC 3948) through the NAT.

// NATTVersion is the NAT-T dialect negotiated with a peer.
type NATTVersion uint8

// NAT-T versions, worst first, so that a larger value is preferred.
const (
	NATTNone NATTVersion = iota
	NATTDraft02N
	NATTDraft02
	NATTDraft03
	NATTRFC3947
)

var nattNames = [...]string{
	NATTNone:     "none",
	NATTDraft02N: `draft-ietf-ipsec-nat-t-ike-02\n`,
	NATTDraft02:  "draft-ietf-ipsec-nat-t-ike-02",
	NATTDraft03:  "draft-ietf-ipsec-nat-t-ike-03",
	NATTRFC3947:  "RFC 3947",
}

// String names the version as its Vendor ID's text.
func (v NATTVersion) String() string {
	if int(v) < len(nattNames) {
		return nattNames[v]
	}
	return fmt.Sprintf("NATTVersion(%d)", uint8(v))
}

// nattVersionOf maps a Vendor ID kind to the NAT-T version it announces.
func nattVersionOf(k VendorKind) NATTVersion {
	switch k {
	case VendorNATTRFC3947:
		return NATTRFC3947
	case VendorNATTDraft03:
		return NATTDraft03
	case VendorNATTDraft02:
		return NATTDraft02
	case VendorNATTDraft02N:
		return NATTDraft02N
	}
	return NATTNone
}

// vendorID returns the Vendor ID that announces v (nil for NATTNone).
func (v NATTVersion) vendorID() []byte {
	switch v {
	case NATTRFC3947:
		return vidRFC3947
	case NATTDraft03:
		return vidDraft03
	case NATTDraft02:
		return vidDraft02
	case NATTDraft02N:
		return vidDraft02N
	}
	return nil
}

// Draft reports whether v is a pre-RFC draft, which uses the private
// payload numbers 130 (NAT-D) and 131 (NAT-OA) and the encapsulation modes
// 61443/61444 (draft-ietf-ipsec-nat-t-ike-02, 5 and 6).
func (v NATTVersion) Draft() bool { return v != NATTNone && v != NATTRFC3947 }

// NATDType returns the NAT-D payload number for v: 20 (RFC 3947, 3.2) or
// 130 (drafts).
func (v NATTVersion) NATDType() isakmp.PayloadType {
	if v.Draft() {
		return isakmp.PayloadNATDDraft
	}
	return isakmp.PayloadNATD
}

// EncapsulationMode returns the IPsec Encapsulation Mode attribute value
// phase 2 proposes when a NAT was detected: UDP-Encapsulated-Tunnel (3)
// or -Transport (4) (RFC 3947, 5.1), 61443/61444 with a draft peer
// (draft-ietf-ipsec-nat-t-ike-02, 5.1). Without NAT it is plain Tunnel (1)
// or Transport (2) (RFC 2407, 4.5).
func (v NATTVersion) EncapsulationMode(tunnel, nat bool) isakmp.EncapsulationMode {
	switch {
	case !nat || v == NATTNone:
		if tunnel {
			return isakmp.EncapTunnel
		}
		return isakmp.EncapTransport
	case v.Draft() && tunnel:
		return isakmp.EncapUDPTunnelDraft
	case v.Draft():
		return isakmp.EncapUDPTransportDraft
	case tunnel:
		return isakmp.EncapUDPTunnel
	}
	return isakmp.EncapUDPTransport
}

// NATOA returns the NAT-OA payload (RFC 3947, 5.2; payload 131 with a
// draft peer) that a transport-mode Quick Mode carries when a NAT was
// detected: the original address, so the peer can fix up TCP/UDP checksums.
func (v NATTVersion) NATOA(addr netip.Addr) *isakmp.NATOA {
	return &isakmp.NATOA{Draft: v.Draft(), Addr: addr.Unmap()}
}

// NATDPayloads returns the NAT-D payloads to send (RFC 3947, 3.2): "The
// first NAT-D payload contains the remote end's IP address and port (i.e.
// the destination address of the UDP packet). The remaining NAT-D payloads
// contain possibly multiple local end IP addresses and ports." iked sends
// one local address: the one the datagram leaves from.
func NATDPayloads(v NATTVersion, prf ikecrypto.PRF, ckyI, ckyR [8]byte, local, remote netip.AddrPort) []isakmp.Payload {
	d := v.Draft()
	return []isakmp.Payload{
		&isakmp.NATD{Draft: d, Hash: ikecrypto.NATDHash(prf, ckyI[:], ckyR[:], remote)},
		&isakmp.NATD{Draft: d, Hash: ikecrypto.NATDHash(prf, ckyI[:], ckyR[:], local)},
	}
}

// NATState is what the NAT-D payloads revealed.
type NATState struct {
	// LocalBehindNAT: the peer saw our datagram come from another address
	// or port than we sent it from; we keep the mapping alive with
	// keepalives (RFC 3948, 4).
	LocalBehindNAT bool
	// RemoteBehindNAT: the peer's datagram did not come from any address it
	// says it sent from.
	RemoteBehindNAT bool
}

// Any reports whether a NAT sits anywhere on the path, which moves IKE to
// port 4500 and ESP into UDP (RFC 3947, 4).
func (n NATState) Any() bool { return n.LocalBehindNAT || n.RemoteBehindNAT }

// String says where the NAT is, for the debug log.
func (n NATState) String() string {
	switch {
	case n.LocalBehindNAT && n.RemoteBehindNAT:
		return "both ends behind NAT"
	case n.LocalBehindNAT:
		return "local end behind NAT"
	case n.RemoteBehindNAT:
		return "remote end behind NAT"
	}
	return "no NAT"
}

// Errors of the NAT-D check.
var (
	// ErrNATDMissing: the peer announced NAT-T but sent fewer than two
	// NAT-D payloads (RFC 3947, 3.2 needs its own and at least one local).
	ErrNATDMissing = errors.New("phase1: fewer than two NAT-D payloads")
	// ErrNATDLength: a NAT-D hash is not the negotiated hash's size.
	ErrNATDLength = errors.New("phase1: NAT-D hash of the wrong length")
	// ErrNATDType: NAT-D payloads of the RFC and draft numbers mixed, or
	// not the number the negotiated version uses.
	ErrNATDType = errors.New("phase1: NAT-D payload number does not match the NAT-T version")
)

// maxNATD bounds the NAT-D payloads looked at: a peer with many addresses
// sends a few, not hundreds.
const maxNATD = 16

// CheckNATD compares the NAT-D payloads the peer sent with the hashes of
// the addresses as we see them (RFC 3947, 3.2): the first payload is the
// peer's view of our address (it differs from ours: we are behind a NAT);
// the others are the peer's own addresses (none equals what we see: the
// peer is behind a NAT). local is the address the datagram arrived on,
// remote the one it came from. Hash comparisons are constant time out of
// habit; the values are public.
func CheckNATD(v NATTVersion, prf ikecrypto.PRF, ckyI, ckyR [8]byte, local, remote netip.AddrPort, natd []*isakmp.NATD) (NATState, error) {
	if len(natd) < 2 {
		return NATState{}, ErrNATDMissing
	}
	if len(natd) > maxNATD {
		natd = natd[:maxNATD]
	}
	for _, p := range natd {
		if p.Draft != v.Draft() {
			return NATState{}, fmt.Errorf("%w: %v with %v", ErrNATDType, p.Type(), v)
		}
		if len(p.Hash) != prf.Size() {
			return NATState{}, fmt.Errorf("%w: %d bytes, want %d", ErrNATDLength, len(p.Hash), prf.Size())
		}
	}
	me := ikecrypto.NATDHash(prf, ckyI[:], ckyR[:], local)
	peer := ikecrypto.NATDHash(prf, ckyI[:], ckyR[:], remote)
	st := NATState{
		LocalBehindNAT:  subtle.ConstantTimeCompare(natd[0].Hash, me) != 1,
		RemoteBehindNAT: true,
	}
	for _, p := range natd[1:] {
		if subtle.ConstantTimeCompare(p.Hash, peer) == 1 {
			st.RemoteBehindNAT = false
		}
	}
	return st, nil
}

// NATTPort is the IANA port of IKE and ESP in UDP (RFC 3947, 4).
const NATTPort = 4500

// FloatMessage says from which phase 1 message on the exchange moves to the
// NAT-T port when a NAT was detected (RFC 3947, 4): MM5 in Main Mode, AM3 in
// Aggressive Mode; the responder answers from where the request came.
func FloatMessage(mode isakmp.ExchangeType) int {
	if mode == isakmp.ExchangeAggressive {
		return 3
	}
	return 5
}

// Float moves an initiator's SA to the NAT-T port on both ends (RFC 3947,
// 4: "the initiator MUST ... change to port 4500" before sending MM5/AM3).
// port is the configured natt-port (4500 unless the policy says otherwise).
func Float(local, remote netip.AddrPort, port uint16) (netip.AddrPort, netip.AddrPort) {
	return netip.AddrPortFrom(local.Addr(), port), netip.AddrPortFrom(remote.Addr(), port)
}

// ApplyNAT records the NAT-D result on the SA and, as initiator, floats it
// to port (RFC 3947, 4). A responder floats when the initiator's MM5/AM3
// arrives on the NAT-T port: see PeerMoved.
func ApplyNAT(s *SA, n NATState, port uint16) {
	s.LocalBehindNAT, s.RemoteBehindNAT = n.LocalBehindNAT, n.RemoteBehindNAT
	if n.Any() && s.Role == daemon.RoleInitiator && port != 0 && !s.Floated {
		s.Local, s.Remote = Float(s.Local, s.Remote, port)
		s.Floated = true
	}
}

// PeerMoved reports whether a message of the SA's peer that arrived on
// local from remote moves the SA there: when the peer announced NAT-T, the
// message came to the NAT-T port, and either address differs (RFC 3947,
// 4: the responder replies to the port the request came from; a NAT may
// map 4500 to any port). It changes nothing: the SA follows only once the
// message verified (Exchange.ConsumeFrom), so that a forged or garbled
// datagram from elsewhere cannot steer it.
func PeerMoved(s *SA, local, remote netip.AddrPort, port uint16) bool {
	if !s.PeerNATT || port == 0 || local.Port() != port {
		return false
	}
	return s.Local != local || s.Remote != remote
}

// peerMove is where a message that moves the SA (PeerMoved) arrived.
type peerMove struct{ local, remote netip.AddrPort }

// ConsumeFrom is Consume for a datagram that arrived on local from remote,
// with port the daemon's NAT-T port. A message that moves the SA
// (PeerMoved) is read against the addresses it arrived on: in Aggressive
// Mode the initiator floats before AM3 and hashes the port 4500 addresses
// into AM3's NAT-D, which strongSwan's responder checks against the
// addresses AM3 arrived on (run e of the recorded strongSwan runs). The SA
// itself moves only once the message's HASH or signature verified
// (followPeer); until then answers and failure notifies go where the SA
// ran, and a message from another IP address that does not even decrypt
// is dropped rather than failing the SA.
func (x *Exchange) ConsumeFrom(env Env, data []byte, local, remote netip.AddrPort, port uint16) daemon.Result {
	x.moved, x.from = nil, remote
	if PeerMoved(x.SA, local, remote, port) {
		x.moved = &peerMove{local: local, remote: remote}
	}
	st := x.Consume(env, data)
	if st.Reject != nil || st.DeleteSA {
		x.moved = nil
	}
	x.from = netip.AddrPort{}
	return st
}

// followPeer moves the SA where the message that just verified came from.
func (x *Exchange) followPeer() {
	if m := x.moved; m != nil {
		x.SA.Local, x.SA.Remote, x.SA.Floated = m.local, m.remote, true
		x.moved = nil
	}
}

// fromOtherHost reports whether the message being consumed came from
// another IP address than the SA's peer (not merely another port, as a
// NAT-T float does), on either port.
func (x *Exchange) fromOtherHost() bool {
	return x.from.IsValid() && x.from.Addr().Unmap() != x.SA.Remote.Addr().Unmap()
}

// atArrival runs f with the SA's addresses set to those the message being
// consumed arrived on, and sets them back after, unless f moved them
// itself (an initiator's float, ApplyNAT).
func (x *Exchange) atArrival(f func() error) error {
	m, s := x.moved, x.SA
	if m == nil {
		return f()
	}
	l, r := s.Local, s.Remote
	s.Local, s.Remote = m.local, m.remote
	err := f()
	if s.Local == m.local && s.Remote == m.remote {
		s.Local, s.Remote = l, r
	}
	return err
}

// NATTConfig is the daemon's NAT-T and DPD settings the phase 1 hooks need.
type NATTConfig struct {
	// Port is daemon.natt-port; 0 turns NAT-T off (no Vendor ID, no NAT-D).
	Port uint16
	// DPD: send the DPD Vendor ID.
	DPD bool
}

// NewHooks returns the Hooks that connect an exchange to Vendor ID, DPD and
// NAT-T handling.
func NewHooks(c NATTConfig) Hooks {
	return Hooks{
		VendorIDs: func(s *SA) [][]byte {
			o := VendorIDOptions{NATT: c.Port != 0, DPD: c.DPD, Initiator: s.Role == daemon.RoleInitiator,
				Unity: s.Conn != nil && s.Conn.ModeConfig != nil,
				XAuth: s.Conn != nil && s.Conn.IKE != nil && s.Conn.IKE.XAuth != policymgr.XAuthRoleNone}
			if s.Role == daemon.RoleResponder {
				o.PeerNATT = peerNATT(s)
			}
			return OurVendorIDs(o)
		},
		PeerVendorIDs: func(s *SA, vids [][]byte) {
			e := PeerExtensions(vids)
			s.VendorIDs = vids
			s.PeerDPD = e.DPD
			s.PeerXAuth = e.XAuth
			s.PeerNATT = c.Port != 0 && e.NATT != NATTNone
			s.NATTDraft = e.NATT.Draft()
		},
		NATD: func(s *SA) []isakmp.Payload {
			prf := natdPRF(s)
			if c.Port == 0 || !s.PeerNATT || prf == nil {
				return nil
			}
			return NATDPayloads(peerNATT(s), prf, s.ICookie, s.RCookie, s.Local, s.Remote)
		},
		PeerNATD: func(s *SA, natd []*isakmp.NATD) error {
			prf := natdPRF(s)
			if c.Port == 0 || !s.PeerNATT || prf == nil {
				return nil
			}
			n, err := CheckNATD(peerNATT(s), prf, s.ICookie, s.RCookie, s.Local, s.Remote, natd)
			if err != nil {
				return err
			}
			ApplyNAT(s, n, c.Port)
			return nil
		},
	}
}

// natdPRF returns the negotiated hash for NAT-D (RFC 3947, 3.2: "HASH is
// the negotiated hash"): NAT-D travels in MM3/MM4, before the keys (and the
// SA's PRF) exist, so it comes from the chosen transform.
func natdPRF(s *SA) ikecrypto.PRF {
	if s.PRF != nil {
		return s.PRF
	}
	prf, err := ikecrypto.NewPRF(ikecrypto.HashAlgorithm(s.Transform.Hash))
	if err != nil {
		return nil
	}
	return prf
}

// peerNATT is the NAT-T version negotiated on s, from the peer's Vendor IDs.
func peerNATT(s *SA) NATTVersion {
	if !s.PeerNATT {
		return NATTNone
	}
	return PeerExtensions(s.VendorIDs).NATT
}
