package policymgr

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/pki"
)

// Selector is one side of a connection's traffic: the addresses, the IP
// protocol and the port, as a Quick Mode ID payload carries them (RFC
// 2407, 4.6.2). Proto 0 is any protocol, Port 0 any port.
type Selector struct {
	Addr  Range
	Proto uint8
	Port  uint16
}

func (s Selector) String() string {
	var buf [64]byte
	return string(s.AppendTo(buf[:0]))
}

// AppendTo appends the selector as String prints it to b: the range,
// then [protocol] or [protocol/port] unless any.
func (s Selector) AppendTo(b []byte) []byte {
	b = s.Addr.AppendTo(b)
	if s.Proto != 0 {
		b = append(append(b, '['), protoName(s.Proto)...)
		if s.Port != 0 {
			b = strconv.AppendUint(append(b, '/'), uint64(s.Port), 10)
		}
		b = append(b, ']')
	}
	return b
}

// Initiate says when the daemon starts a connection itself.
type Initiate uint8

const (
	InitiateOnDemand Initiate = iota // on a kernel acquire
	InitiateStart                    // at start-up and after a reload
	InitiateNever                    // respond only
)

func (i Initiate) String() string {
	switch i {
	case InitiateOnDemand:
		return "on-demand"
	case InitiateStart:
		return "start"
	case InitiateNever:
		return "never"
	}
	return fmt.Sprintf("Initiate(%d)", uint8(i))
}

// AuthKind is the policy's phase 1 authentication: a pre-shared key or a
// certificate; the ISAKMP Authentication Method follows from it and, for a
// certificate, from its key (Phase1.AuthMethod).
type AuthKind uint8

const (
	AuthPSK AuthKind = iota + 1
	AuthCertificate
)

func (a AuthKind) String() string {
	switch a {
	case AuthPSK:
		return "psk"
	case AuthCertificate:
		return "certificate"
	}
	return fmt.Sprintf("AuthKind(%d)", uint8(a))
}

// XAuthRole is a connection's part in XAUTH (draft-beaulieu-ike-xauth-02)
// after phase 1: none, the gateway that asks for a user name and password,
// or the client that gives them.
type XAuthRole uint8

const (
	XAuthRoleNone XAuthRole = iota
	XAuthServer
	XAuthClient
)

func (r XAuthRole) String() string {
	switch r {
	case XAuthRoleNone:
		return "none"
	case XAuthServer:
		return "server"
	case XAuthClient:
		return "client"
	}
	return fmt.Sprintf("XAuthRole(%d)", uint8(r))
}

// ID is an ISAKMP identity of the policy file (local-id, remote-id): the
// ID payload's type and data (RFC 2407, 4.6.2), and the text it was
// written as, for messages. The zero ID is "not given".
type ID struct {
	Type isakmp.IDType
	Data []byte
	Text string
}

// IsZero reports an ID that was not given.
func (id ID) IsZero() bool { return id.Type == 0 }

func (id ID) String() string { return id.Text }

// Phase1Transform is one phase 1 alternative of the cross product of a
// transform's ciphers × hashes × groups (RFC 2409, Appendix A attributes).
type Phase1Transform struct {
	Cipher    isakmp.EncryptionAlgorithm
	KeyLength int // bits, 0: no Key Length attribute
	Hash      isakmp.HashAlgorithm
	Group     isakmp.GroupDescription
	Lifetime  time.Duration
	// Names are the policy file's words for the three, for logs.
	CipherName, HashName, GroupName string
}

func (t Phase1Transform) String() string {
	return t.CipherName + "-" + t.HashName + "-" + t.GroupName
}

// Phase1 is a connection's IKE settings.
type Phase1 struct {
	Mode isakmp.ExchangeType // ExchangeMain or ExchangeAggressive
	// Transforms are the alternatives in order of preference, expanded
	// from the listed transforms' ciphers × hashes × groups.
	Transforms []Phase1Transform
	Auth       AuthKind
	// AuthMethod is what goes in the transforms' Authentication Method
	// attribute: pre-shared key, or the signature method of the
	// certificate's key (RSA, or ECDSA per RFC 4754).
	AuthMethod isakmp.AuthMethod
	PSK        Secret
	// Certificate names the certificates item this host authenticates
	// with; Cert is that item in the policy's store.
	Certificate string
	Cert        *pki.Cert
	// CA names the trusted certificates item that must certify the peer
	// (the ike.ca key); empty: any trusted certificate.
	CA string
	// LocalID is the identity sent; zero: the local address at
	// negotiation. RemoteID is the identity required of the peer; zero:
	// any that the authentication proves.
	LocalID, RemoteID ID
	// SendCert says when our CERT payload goes to the peer (ike.send-cert).
	SendCert SendCert
	// XAuth is the connection's XAUTH role (ike.xauth); a client gives
	// XAuthUser and XAuthPassword (ike.xauth-user, the contents of
	// ike.xauth-password-file).
	XAuth         XAuthRole
	XAuthUser     string
	XAuthPassword Secret
}

// IPsecTransform is one alternative for one protocol of a phase 2
// proposal: an AH, ESP or IPComp transform with its attributes (RFC 2407,
// 4.4 and 4.5).
type IPsecTransform struct {
	Protocol isakmp.ProtocolID
	// ID is the transform ID in the protocol's registry (AH, ESP or
	// IPComp: see isakmp.TransformIDString).
	ID        uint8
	KeyLength int                  // ESP Key Length attribute, bits; 0: none
	Auth      isakmp.AuthAlgorithm // Authentication Algorithm; 0: none (GCM, IPComp)
	// CipherKeyBits and AuthKeyBits are the keying material each
	// algorithm takes, for manual keys and KEYMAT.
	CipherKeyBits, AuthKeyBits int
	// Names are the policy file's words, for logs.
	CipherName, HMACName string
}

func (t IPsecTransform) String() string {
	s := isakmp.TransformIDString(t.Protocol, t.ID)
	if t.KeyLength != 0 {
		s += fmt.Sprintf("/%d", t.KeyLength)
	}
	if t.Auth != 0 {
		s += "+" + t.Auth.String()
	}
	return s
}

// ProtocolChoice is one protocol of a proposal with its alternative
// transforms, in order of preference (an OR).
type ProtocolChoice struct {
	Protocol   isakmp.ProtocolID
	Transform  string // the transforms item's name
	Transforms []IPsecTransform
}

// Proposal is a chain of protocols applied together (an AND), at most one
// of each protocol, in the order listed.
type Proposal struct {
	Name      string
	Protocols []ProtocolChoice
}

// ProposalList is a connection's phase 2 alternatives, in order of
// preference (an OR of proposals).
type ProposalList struct {
	Name      string
	Proposals []*Proposal
}

// Connection is one entry of the connections section: the traffic it
// protects and how its SAs are negotiated (or keyed manually).
type Connection struct {
	Name string
	Line int // where the connection starts in the file

	// Local and Remote are the selectors; their Proto and Port are the
	// protocol and port keys.
	Local, Remote Selector

	// Tunnel is true when a gateway is given; in transport mode the
	// addresses are the endpoints.
	Tunnel bool
	// LocalGW is the local tunnel endpoint (invalid: not given).
	LocalGW netip.Addr
	// RemoteGW is the peer's gateway address; invalid when RemoteGWName
	// is set (a DNS name resolved when negotiating) or when any peer may
	// connect (a road warrior connection).
	RemoteGW     netip.Addr
	RemoteGWName string

	Initiate  Initiate
	SAPerHost bool
	// Fragmentation is how the connection's IKE messages over the path
	// limit travel (fragmentation.go).
	Fragmentation Fragmentation

	// IKE is nil for a manually keyed connection.
	IKE          *Phase1
	ProposalList *ProposalList
	// PFS is the Quick Mode Diffie-Hellman group; 0: no PFS.
	PFS            isakmp.GroupDescription
	Lifetime       time.Duration
	LifetimeKBytes uint64

	// Manual is set for a manually keyed connection.
	Manual *Manual

	// Updown is the script run when an IPsec SA of the connection comes
	// up, is rekeyed or goes down ("" for none); it is killed after
	// UpdownTimeout.
	Updown        string
	UpdownTimeout time.Duration

	// SHA256Trunc96 truncates HMAC-SHA-256 in ESP and AH to 96 bits
	// instead of RFC 4868's 128, as peers written before RFC 4868 do (the
	// Linux kernel's and strongSwan's sha256_96).
	SHA256Trunc96 bool

	// KeyingTries is how often a phase 1 we initiate is tried before the
	// daemon gives up (1: once, as without the key); 0 is forever.
	KeyingTries int

	// RekeyMargin, when set, is how long before the IPsec SAs' lifetime
	// ends they are rekeyed, less a random part of RekeyJitter so that
	// many SAs do not rekey at once (strongSwan's rekey_time and
	// rand_time). Unset: a tenth of the lifetime (a twentieth as Quick
	// Mode responder).
	RekeyMargin, RekeyJitter time.Duration

	// DPD is the connection's Dead Peer Detection (the daemon section's
	// delay and timeout unless the connection gives its own) and what
	// happens when the peer is dead (strongSwan's dpd_action).
	DPD ConnDPD
	// CloseAction is what happens when the peer deletes the connection's
	// last IPsec SA or its ISAKMP SA with none left (strongSwan's
	// close_action).
	CloseAction Action

	// ModeConfig is the connection's Mode Config (nil: none): a
	// gateway's pool or a client's request.
	ModeConfig *ModeConfig

	fingerprint [32]byte
}

// Mode returns the IPsec encapsulation mode the connection negotiates.
func (c *Connection) Mode() isakmp.EncapsulationMode {
	if c.Tunnel {
		return isakmp.EncapTunnel
	}
	return isakmp.EncapTransport
}

// RoadWarrior reports a connection that answers any peer gateway.
func (c *Connection) RoadWarrior() bool {
	return !c.RemoteGW.IsValid() && c.RemoteGWName == ""
}

// Manual is a manually keyed connection's SAs: one entry per protocol of
// its single proposal, in the proposal's order.
type Manual struct {
	Proposal *Proposal
	SAs      []ManualSA
}

// ManualSA is the keys of one protocol of a manually keyed connection.
type ManualSA struct {
	Protocol              isakmp.ProtocolID
	Transform             IPsecTransform
	SPIIn, SPIOut         uint32 // CPIs for IPComp
	CipherKeyIn           Secret
	CipherKeyOut          Secret
	AuthKeyIn, AuthKeyOut Secret
}

func protoName(p uint8) string {
	switch p {
	case 0:
		return "any"
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}
