package isakmp

// IPsecAttr is the type of a data attribute in an AH, ESP or IPCOMP
// transform.
//
// RFC 2407, 4.5; RFC 4304 (Extended Sequence Number).
type IPsecAttr uint16

// IPsec attribute types (RFC 2407, 4.5).
const (
	IPsecAttrSALifeType         IPsecAttr = 1
	IPsecAttrSALifeDuration     IPsecAttr = 2
	IPsecAttrGroupDescription   IPsecAttr = 3
	IPsecAttrEncapsulationMode  IPsecAttr = 4
	IPsecAttrAuthAlgorithm      IPsecAttr = 5
	IPsecAttrKeyLength          IPsecAttr = 6
	IPsecAttrKeyRounds          IPsecAttr = 7
	IPsecAttrCompressDictSize   IPsecAttr = 8
	IPsecAttrCompressPrivateAlg IPsecAttr = 9
	IPsecAttrExtendedSeqNum     IPsecAttr = 11
)

var ipsecAttrNames = map[IPsecAttr]string{
	IPsecAttrSALifeType:         "SA Life Type",
	IPsecAttrSALifeDuration:     "SA Life Duration",
	IPsecAttrGroupDescription:   "Group Description",
	IPsecAttrEncapsulationMode:  "Encapsulation Mode",
	IPsecAttrAuthAlgorithm:      "Authentication Algorithm",
	IPsecAttrKeyLength:          "Key Length",
	IPsecAttrKeyRounds:          "Key Rounds",
	IPsecAttrCompressDictSize:   "Compress Dictionary Size",
	IPsecAttrCompressPrivateAlg: "Compress Private Algorithm",
	IPsecAttrExtendedSeqNum:     "Extended (64-bit) Sequence Number",
}

// String returns the RFC name of the attribute type, or IPsecAttr(n).
func (a IPsecAttr) String() string { return enumName(a, "IPsecAttr", ipsecAttrNames) }

// EncapsulationMode is the value of the IPsec Encapsulation Mode attribute.
//
// RFC 2407, 4.5; RFC 3947, 5.1 (UDP encapsulation 3 and 4);
// draft-ietf-ipsec-nat-t-ike-02 (61443, 61444).
type EncapsulationMode uint16

// Encapsulation modes.
const (
	EncapTunnel            EncapsulationMode = 1
	EncapTransport         EncapsulationMode = 2
	EncapUDPTunnel         EncapsulationMode = 3
	EncapUDPTransport      EncapsulationMode = 4
	EncapUDPTunnelDraft    EncapsulationMode = 61443
	EncapUDPTransportDraft EncapsulationMode = 61444
)

var encapNames = map[EncapsulationMode]string{
	EncapTunnel:            "Tunnel",
	EncapTransport:         "Transport",
	EncapUDPTunnel:         "UDP-Encapsulated-Tunnel",
	EncapUDPTransport:      "UDP-Encapsulated-Transport",
	EncapUDPTunnelDraft:    "UDP-Encapsulated-Tunnel (draft)",
	EncapUDPTransportDraft: "UDP-Encapsulated-Transport (draft)",
}

// String returns the RFC name of the mode, or EncapsulationMode(n).
func (e EncapsulationMode) String() string { return enumName(e, "EncapsulationMode", encapNames) }

// AuthAlgorithm is the value of the IPsec Authentication Algorithm attribute.
//
// RFC 2407, 4.5; RFC 4868 (SHA-2); RFC 3566 (XCBC); RFC 4543 (GMAC).
type AuthAlgorithm uint16

// IPsec authentication algorithms.
const (
	AuthHMACMD5     AuthAlgorithm = 1
	AuthHMACSHA     AuthAlgorithm = 2
	AuthDESMAC      AuthAlgorithm = 3
	AuthKPDK        AuthAlgorithm = 4
	AuthHMACSHA2256 AuthAlgorithm = 5
	AuthHMACSHA2384 AuthAlgorithm = 6
	AuthHMACSHA2512 AuthAlgorithm = 7
	AuthHMACRIPEMD  AuthAlgorithm = 8
	AuthAESXCBCMAC  AuthAlgorithm = 9
	AuthSigRSA      AuthAlgorithm = 10
	AuthAES128GMAC  AuthAlgorithm = 11
	AuthAES192GMAC  AuthAlgorithm = 12
	AuthAES256GMAC  AuthAlgorithm = 13
)

var authAlgNames = map[AuthAlgorithm]string{
	AuthHMACMD5:     "HMAC-MD5",
	AuthHMACSHA:     "HMAC-SHA",
	AuthDESMAC:      "DES-MAC",
	AuthKPDK:        "KPDK",
	AuthHMACSHA2256: "HMAC-SHA2-256",
	AuthHMACSHA2384: "HMAC-SHA2-384",
	AuthHMACSHA2512: "HMAC-SHA2-512",
	AuthHMACRIPEMD:  "HMAC-RIPEMD",
	AuthAESXCBCMAC:  "AES-XCBC-MAC",
	AuthSigRSA:      "SIG-RSA",
	AuthAES128GMAC:  "AES-128-GMAC",
	AuthAES192GMAC:  "AES-192-GMAC",
	AuthAES256GMAC:  "AES-256-GMAC",
}

// String returns the RFC name of the algorithm, or AuthAlgorithm(n).
func (a AuthAlgorithm) String() string { return enumName(a, "AuthAlgorithm", authAlgNames) }
