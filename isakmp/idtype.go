package isakmp

// IDType is the identification type of an ID payload (and of NAT-OA).
//
// RFC 2407, 4.6.2.1.
type IDType uint8

// Identification types (RFC 2407, 4.6.2.1).
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

var idTypeNames = map[IDType]string{
	IDIPv4Addr:       "ID_IPV4_ADDR",
	IDFQDN:           "ID_FQDN",
	IDUserFQDN:       "ID_USER_FQDN",
	IDIPv4AddrSubnet: "ID_IPV4_ADDR_SUBNET",
	IDIPv6Addr:       "ID_IPV6_ADDR",
	IDIPv6AddrSubnet: "ID_IPV6_ADDR_SUBNET",
	IDIPv4AddrRange:  "ID_IPV4_ADDR_RANGE",
	IDIPv6AddrRange:  "ID_IPV6_ADDR_RANGE",
	IDDERASN1DN:      "ID_DER_ASN1_DN",
	IDDERASN1GN:      "ID_DER_ASN1_GN",
	IDKeyID:          "ID_KEY_ID",
}

// String returns the RFC name of the ID type, or IDType(n).
func (t IDType) String() string { return enumName(t, "IDType", idTypeNames) }

// CertEncoding is the encoding of a CERT payload and the requested type of a
// CR payload.
//
// RFC 2408, 3.9.
type CertEncoding uint8

// Certificate encodings (RFC 2408, 3.9).
const (
	CertNone            CertEncoding = 0
	CertPKCS7           CertEncoding = 1
	CertPGP             CertEncoding = 2
	CertDNSSignedKey    CertEncoding = 3
	CertX509Signature   CertEncoding = 4
	CertX509KeyExchange CertEncoding = 5
	CertKerberosTokens  CertEncoding = 6
	CertCRL             CertEncoding = 7
	CertARL             CertEncoding = 8
	CertSPKI            CertEncoding = 9
	CertX509Attribute   CertEncoding = 10
)

var certEncodingNames = map[CertEncoding]string{
	CertNone:            "NONE",
	CertPKCS7:           "PKCS #7 wrapped X.509 certificate",
	CertPGP:             "PGP Certificate",
	CertDNSSignedKey:    "DNS Signed Key",
	CertX509Signature:   "X.509 Certificate - Signature",
	CertX509KeyExchange: "X.509 Certificate - Key Exchange",
	CertKerberosTokens:  "Kerberos Tokens",
	CertCRL:             "Certificate Revocation List (CRL)",
	CertARL:             "Authority Revocation List (ARL)",
	CertSPKI:            "SPKI Certificate",
	CertX509Attribute:   "X.509 Certificate - Attribute",
}

// String returns the RFC name of the encoding, or CertEncoding(n).
func (c CertEncoding) String() string { return enumName(c, "CertEncoding", certEncodingNames) }
