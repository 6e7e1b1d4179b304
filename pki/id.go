package pki

import (
	"crypto/x509"
	"fmt"
)

// IDType is an ISAKMP identification type of the IPsec DOI (RFC 2407,
// 4.6.2.1). pki keeps its own copy so that it need not import isakmp.
type IDType uint8

// RFC 2407, 4.6.2.1.
const (
	IDIPv4Addr       IDType = 1
	IDFQDN           IDType = 2
	IDUserFQDN       IDType = 3
	IDIPv4AddrSubnet IDType = 4
	IDIPv6Addr       IDType = 5
	IDIPv6AddrSubnet IDType = 6
	IDIPv4AddrRange  IDType = 7
	IDIPv6AddrRange  IDType = 8
	IDDERASN1DN      IDType = 9
	IDDERASN1GN      IDType = 10
	IDKeyID          IDType = 11
)

func (t IDType) String() string {
	switch t {
	case IDIPv4Addr:
		return "ID_IPV4_ADDR"
	case IDFQDN:
		return "ID_FQDN"
	case IDUserFQDN:
		return "ID_USER_FQDN"
	case IDIPv4AddrSubnet:
		return "ID_IPV4_ADDR_SUBNET"
	case IDIPv6Addr:
		return "ID_IPV6_ADDR"
	case IDIPv6AddrSubnet:
		return "ID_IPV6_ADDR_SUBNET"
	case IDIPv4AddrRange:
		return "ID_IPV4_ADDR_RANGE"
	case IDIPv6AddrRange:
		return "ID_IPV6_ADDR_RANGE"
	case IDDERASN1DN:
		return "ID_DER_ASN1_DN"
	case IDDERASN1GN:
		return "ID_DER_ASN1_GN"
	case IDKeyID:
		return "ID_KEY_ID"
	}
	return fmt.Sprintf("IDType(%d)", uint8(t))
}

// ID is a peer's identity as its ID payload carries it (RFC 2407, 4.6.2):
// the type and the identification data, without protocol and port.
type ID struct {
	Type IDType
	Data []byte
}

// MatchID reports whether the peer's identity is one of the certificate's
// names (RFC 4945, 3.1): an address, FQDN or user FQDN among its
// subjectAltNames, a DN equal to its subject (or a directoryName
// subjectAltName), a KEY_ID equal to its subject key identifier. A nil
// error means it matches.
func MatchID(cert *x509.Certificate, id ID) error {
	return errNotImplemented
}
