package isakmp

import (
	"math"
	"time"
)

// Phase1Attr is the type of a data attribute in a KEY_IKE transform.
//
// RFC 2409, Appendix A.
type Phase1Attr uint16

// Phase 1 attribute types (RFC 2409, Appendix A). B = basic, V = variable.
const (
	AttrEncryptionAlgorithm Phase1Attr = 1  // B
	AttrHashAlgorithm       Phase1Attr = 2  // B
	AttrAuthMethod          Phase1Attr = 3  // B
	AttrGroupDescription    Phase1Attr = 4  // B
	AttrGroupType           Phase1Attr = 5  // B
	AttrGroupPrime          Phase1Attr = 6  // V
	AttrGroupGeneratorOne   Phase1Attr = 7  // V
	AttrGroupGeneratorTwo   Phase1Attr = 8  // V
	AttrGroupCurveA         Phase1Attr = 9  // V
	AttrGroupCurveB         Phase1Attr = 10 // V
	AttrLifeType            Phase1Attr = 11 // B
	AttrLifeDuration        Phase1Attr = 12 // V
	AttrPRF                 Phase1Attr = 13 // B
	AttrKeyLength           Phase1Attr = 14 // B
	AttrFieldSize           Phase1Attr = 15 // B
	AttrGroupOrder          Phase1Attr = 16 // V
)

var phase1AttrNames = map[Phase1Attr]string{
	AttrEncryptionAlgorithm: "Encryption Algorithm",
	AttrHashAlgorithm:       "Hash Algorithm",
	AttrAuthMethod:          "Authentication Method",
	AttrGroupDescription:    "Group Description",
	AttrGroupType:           "Group Type",
	AttrGroupPrime:          "Group Prime/Irreducible Polynomial",
	AttrGroupGeneratorOne:   "Group Generator One",
	AttrGroupGeneratorTwo:   "Group Generator Two",
	AttrGroupCurveA:         "Group Curve A",
	AttrGroupCurveB:         "Group Curve B",
	AttrLifeType:            "Life Type",
	AttrLifeDuration:        "Life Duration",
	AttrPRF:                 "PRF",
	AttrKeyLength:           "Key Length",
	AttrFieldSize:           "Field Size",
	AttrGroupOrder:          "Group Order",
}

// String returns the RFC name of the attribute type, or Phase1Attr(n).
func (a Phase1Attr) String() string { return enumName(a, "Phase1Attr", phase1AttrNames) }

// EncryptionAlgorithm is the value of the phase 1 Encryption Algorithm
// attribute (RFC 2409, Appendix A; RFC 3602 AES-CBC; RFC 4312 Camellia).
type EncryptionAlgorithm uint16

// Phase 1 encryption algorithms.
const (
	EncDESCBC      EncryptionAlgorithm = 1
	EncIDEACBC     EncryptionAlgorithm = 2
	EncBlowfishCBC EncryptionAlgorithm = 3
	EncRC5CBC      EncryptionAlgorithm = 4
	Enc3DESCBC     EncryptionAlgorithm = 5
	EncCASTCBC     EncryptionAlgorithm = 6
	EncAESCBC      EncryptionAlgorithm = 7
	EncCamelliaCBC EncryptionAlgorithm = 8
)

var encNames = map[EncryptionAlgorithm]string{
	EncDESCBC:      "DES-CBC",
	EncIDEACBC:     "IDEA-CBC",
	EncBlowfishCBC: "Blowfish-CBC",
	EncRC5CBC:      "RC5-R16-B64-CBC",
	Enc3DESCBC:     "3DES-CBC",
	EncCASTCBC:     "CAST-CBC",
	EncAESCBC:      "AES-CBC",
	EncCamelliaCBC: "CAMELLIA-CBC",
}

// String returns the RFC name of the algorithm, or EncryptionAlgorithm(n).
func (e EncryptionAlgorithm) String() string { return enumName(e, "EncryptionAlgorithm", encNames) }

// HashAlgorithm is the value of the phase 1 Hash Algorithm attribute
// (RFC 2409, Appendix A; RFC 4868 SHA-2).
type HashAlgorithm uint16

// Phase 1 hash algorithms.
const (
	HashMD5     HashAlgorithm = 1
	HashSHA     HashAlgorithm = 2
	HashTiger   HashAlgorithm = 3
	HashSHA2256 HashAlgorithm = 4
	HashSHA2384 HashAlgorithm = 5
	HashSHA2512 HashAlgorithm = 6
)

var hashNames = map[HashAlgorithm]string{
	HashMD5:     "MD5",
	HashSHA:     "SHA",
	HashTiger:   "Tiger",
	HashSHA2256: "SHA2-256",
	HashSHA2384: "SHA2-384",
	HashSHA2512: "SHA2-512",
}

// String returns the RFC name of the hash, or HashAlgorithm(n).
func (h HashAlgorithm) String() string { return enumName(h, "HashAlgorithm", hashNames) }

// AuthMethod is the value of the phase 1 Authentication Method attribute
// (RFC 2409, Appendix A; RFC 4754, 3 for ECDSA; draft-beaulieu-ike-xauth for
// the XAUTH values strongSwan may propose).
type AuthMethod uint16

// Phase 1 authentication methods.
const (
	AuthPSK           AuthMethod = 1
	AuthDSS           AuthMethod = 2
	AuthRSASig        AuthMethod = 3
	AuthRSAEnc        AuthMethod = 4
	AuthRSARevisedEnc AuthMethod = 5
	AuthECDSA256      AuthMethod = 9
	AuthECDSA384      AuthMethod = 10
	AuthECDSA521      AuthMethod = 11
	AuthXAUTHInitPSK  AuthMethod = 65001
	AuthXAUTHRespPSK  AuthMethod = 65002
	AuthXAUTHInitRSA  AuthMethod = 65005
	AuthXAUTHRespRSA  AuthMethod = 65006
)

var authNames = map[AuthMethod]string{
	AuthPSK:           "pre-shared key",
	AuthDSS:           "DSS signatures",
	AuthRSASig:        "RSA signatures",
	AuthRSAEnc:        "Encryption with RSA",
	AuthRSARevisedEnc: "Revised encryption with RSA",
	AuthECDSA256:      "ECDSA with SHA-256 on the P-256 curve",
	AuthECDSA384:      "ECDSA with SHA-384 on the P-384 curve",
	AuthECDSA521:      "ECDSA with SHA-512 on the P-521 curve",
	AuthXAUTHInitPSK:  "XAUTHInitPreShared",
	AuthXAUTHRespPSK:  "XAUTHRespPreShared",
	AuthXAUTHInitRSA:  "XAUTHInitRSA",
	AuthXAUTHRespRSA:  "XAUTHRespRSA",
}

// String returns the RFC name of the method, or AuthMethod(n).
func (a AuthMethod) String() string { return enumName(a, "AuthMethod", authNames) }

// Base returns the method that authenticates phase 1 itself: an XAUTH
// method authenticates as its pre-shared key or RSA signature method
// does, and XAUTH follows (draft-beaulieu-ike-xauth-02, 3.3).
func (a AuthMethod) Base() AuthMethod {
	switch a {
	case AuthXAUTHInitPSK, AuthXAUTHRespPSK:
		return AuthPSK
	case AuthXAUTHInitRSA, AuthXAUTHRespRSA:
		return AuthRSASig
	}
	return a
}

// WithXAUTH returns the XAUTH method over a pre-shared key or RSA
// signature method a: the Init one when the phase 1 initiator is the
// XAUTH client (the usual road warrior), the Resp one when the responder
// is (draft-beaulieu-ike-xauth-02, 3.3). Other methods have none: a is
// returned.
func (a AuthMethod) WithXAUTH(initiatorIsClient bool) AuthMethod {
	switch {
	case a == AuthPSK && initiatorIsClient:
		return AuthXAUTHInitPSK
	case a == AuthPSK:
		return AuthXAUTHRespPSK
	case a == AuthRSASig && initiatorIsClient:
		return AuthXAUTHInitRSA
	case a == AuthRSASig:
		return AuthXAUTHRespRSA
	}
	return a
}

// GroupDescription is a Diffie-Hellman group number, shared by the phase 1
// Group Description attribute and the IPsec one (PFS).
//
// RFC 2409, 6 and Appendix A; RFC 3526 (MODP 5, 14-18); RFC 5114 (22-26);
// RFC 5903 (ECP 19-21); RFC 6932 (Brainpool 27-30).
type GroupDescription uint16

// Diffie-Hellman groups.
const (
	GroupMODP768      GroupDescription = 1
	GroupMODP1024     GroupDescription = 2
	GroupEC2N155      GroupDescription = 3
	GroupEC2N185      GroupDescription = 4
	GroupMODP1536     GroupDescription = 5
	GroupMODP2048     GroupDescription = 14
	GroupMODP3072     GroupDescription = 15
	GroupMODP4096     GroupDescription = 16
	GroupMODP6144     GroupDescription = 17
	GroupMODP8192     GroupDescription = 18
	GroupECP256       GroupDescription = 19
	GroupECP384       GroupDescription = 20
	GroupECP521       GroupDescription = 21
	GroupMODP1024S160 GroupDescription = 22
	GroupMODP2048S224 GroupDescription = 23
	GroupMODP2048S256 GroupDescription = 24
	GroupECP192       GroupDescription = 25
	GroupECP224       GroupDescription = 26
	GroupBrainpool224 GroupDescription = 27
	GroupBrainpool256 GroupDescription = 28
	GroupBrainpool384 GroupDescription = 29
	GroupBrainpool512 GroupDescription = 30
)

var groupNames = map[GroupDescription]string{
	GroupMODP768:      "default 768-bit MODP group",
	GroupMODP1024:     "alternate 1024-bit MODP group",
	GroupEC2N155:      "EC2N group on GP[2^155]",
	GroupEC2N185:      "EC2N group on GP[2^185]",
	GroupMODP1536:     "1536-bit MODP group",
	GroupMODP2048:     "2048-bit MODP group",
	GroupMODP3072:     "3072-bit MODP group",
	GroupMODP4096:     "4096-bit MODP group",
	GroupMODP6144:     "6144-bit MODP group",
	GroupMODP8192:     "8192-bit MODP group",
	GroupECP256:       "256-bit random ECP group",
	GroupECP384:       "384-bit random ECP group",
	GroupECP521:       "521-bit random ECP group",
	GroupMODP1024S160: "1024-bit MODP Group with 160-bit Prime Order Subgroup",
	GroupMODP2048S224: "2048-bit MODP Group with 224-bit Prime Order Subgroup",
	GroupMODP2048S256: "2048-bit MODP Group with 256-bit Prime Order Subgroup",
	GroupECP192:       "192-bit Random ECP Group",
	GroupECP224:       "224-bit Random ECP Group",
	GroupBrainpool224: "brainpoolP224r1",
	GroupBrainpool256: "brainpoolP256r1",
	GroupBrainpool384: "brainpoolP384r1",
	GroupBrainpool512: "brainpoolP512r1",
}

// String returns the RFC name of the group, or GroupDescription(n).
func (g GroupDescription) String() string { return enumName(g, "GroupDescription", groupNames) }

// GroupType is the value of the phase 1 Group Type attribute (RFC 2409,
// Appendix A).
type GroupType uint16

// Group types.
const (
	GroupTypeMODP GroupType = 1
	GroupTypeECP  GroupType = 2
	GroupTypeEC2N GroupType = 3
)

var groupTypeNames = map[GroupType]string{GroupTypeMODP: "MODP", GroupTypeECP: "ECP", GroupTypeEC2N: "EC2N"}

// String returns the RFC name of the group type, or GroupType(n).
func (g GroupType) String() string { return enumName(g, "GroupType", groupTypeNames) }

// LifeType is the unit of a following Life Duration attribute, in phase 1
// (RFC 2409, Appendix A) and in IPsec SAs (RFC 2407, 4.5).
type LifeType uint16

// Life types.
const (
	LifeSeconds   LifeType = 1
	LifeKilobytes LifeType = 2
)

var lifeTypeNames = map[LifeType]string{LifeSeconds: "seconds", LifeKilobytes: "kilobytes"}

// LifeDuration is a Life Duration in seconds (RFC 2409, Appendix A; RFC
// 2407, 4.5: up to 2^64-1 on the wire) as a time.Duration. What a Duration
// cannot hold (about 292 years) saturates at its maximum instead of
// wrapping to a negative or short lifetime.
func LifeDuration(secs uint64) time.Duration {
	if secs > uint64(math.MaxInt64/int64(time.Second)) {
		return math.MaxInt64
	}
	return time.Duration(secs) * time.Second
}

// String returns the RFC name of the unit, or LifeType(n).
func (l LifeType) String() string { return enumName(l, "LifeType", lifeTypeNames) }
