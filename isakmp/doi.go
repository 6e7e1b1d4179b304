package isakmp

// DOI is the Domain of Interpretation of an SA, Notification or Delete
// payload; it says how to read the situation, protocol and attribute values.
//
// RFC 2408, 3.4 (0 is the generic ISAKMP DOI); RFC 2407, 4.2 (IPsec DOI = 1).
type DOI uint32

// Domains of interpretation.
const (
	DOIISAKMP DOI = 0
	DOIIPsec  DOI = 1
)

var doiNames = map[DOI]string{DOIISAKMP: "ISAKMP", DOIIPsec: "IPSEC"}

// String returns the DOI's RFC name, or DOI(n).
func (d DOI) String() string { return enumName(d, "DOI", doiNames) }

// Situation is the IPsec DOI situation bitmap of an SA payload.
//
// RFC 2407, 4.2.
type Situation uint32

// IPsec DOI situations (RFC 2407, 4.2).
const (
	SitIdentityOnly Situation = 0x01
	SitSecrecy      Situation = 0x02
	SitIntegrity    Situation = 0x04
)

var situationNames = map[Situation]string{
	SitIdentityOnly: "SIT_IDENTITY_ONLY",
	SitSecrecy:      "SIT_SECRECY",
	SitIntegrity:    "SIT_INTEGRITY",
}

// String returns the RFC name of a single-bit situation, or Situation(n).
func (s Situation) String() string { return enumName(s, "Situation", situationNames) }

// ProtocolID names the protocol of a proposal, notification or delete.
//
// RFC 2407, 4.4.1.
type ProtocolID uint8

// Protocol IDs (RFC 2407, 4.4.1).
const (
	ProtoISAKMP ProtocolID = 1
	ProtoAH     ProtocolID = 2
	ProtoESP    ProtocolID = 3
	ProtoIPCOMP ProtocolID = 4
)

var protocolNames = map[ProtocolID]string{
	ProtoISAKMP: "PROTO_ISAKMP",
	ProtoAH:     "PROTO_IPSEC_AH",
	ProtoESP:    "PROTO_IPSEC_ESP",
	ProtoIPCOMP: "PROTO_IPCOMP",
}

// String returns the RFC name of the protocol, or ProtocolID(n).
func (p ProtocolID) String() string { return enumName(p, "ProtocolID", protocolNames) }
