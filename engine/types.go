package engine

import "fmt"

// Protocol is an IPsec security protocol, numbered as in the IP protocol
// field (RFC 4303 ESP 50, RFC 4302 AH 51, RFC 3173 IPComp 108) because that is
// both what XFRM takes and what the IKEv1 DOI protocol IDs map to.
type Protocol uint8

const (
	ProtoESP    Protocol = 50  // RFC 4303; IKEv1 PROTO_IPSEC_ESP (RFC 2407, 4.4.1)
	ProtoAH     Protocol = 51  // RFC 4302; IKEv1 PROTO_IPSEC_AH
	ProtoIPComp Protocol = 108 // RFC 3173; IKEv1 PROTO_IPCOMP
)

// String prints the protocol the way message 62 (`protocol[spi-value]`) does.
func (p Protocol) String() string {
	switch p {
	case ProtoESP:
		return "ESP"
	case ProtoAH:
		return "AH"
	case ProtoIPComp:
		return "IPCOMP"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Valid reports whether p is one of the three IPsec protocols.
func (p Protocol) Valid() bool {
	return p == ProtoESP || p == ProtoAH || p == ProtoIPComp
}

// chainRank orders a protocol chain innermost first (IPComp, ESP, AH), the
// order RFC 2401, 4.5 applies them on output and XFRM expects its templates.
func (p Protocol) chainRank() int {
	switch p {
	case ProtoIPComp:
		return 0
	case ProtoESP:
		return 1
	case ProtoAH:
		return 2
	}
	return 3
}

// Mode is the IPsec encapsulation mode (RFC 2407, 4.5 Encapsulation Mode;
// RFC 4301, 4.1). Values are XFRM's (0 transport, 1 tunnel).
type Mode uint8

const (
	ModeTransport Mode = 0
	ModeTunnel    Mode = 1
)

func (m Mode) String() string {
	switch m {
	case ModeTransport:
		return "transport"
	case ModeTunnel:
		return "tunnel"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Direction is the direction of a kernel policy. Values are XFRM's
// (XFRM_POLICY_IN 0, OUT 1, FWD 2): forwarded traffic of a tunnel needs its
// own policy on Linux.
type Direction uint8

const (
	DirIn  Direction = 0
	DirOut Direction = 1
	DirFwd Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	case DirFwd:
		return "fwd"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}
