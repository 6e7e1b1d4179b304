package ikecrypto

import "encoding/binary"

// IKEv1 authentication method values that change the phase 1 hash PRF
// (RFC 4754, IANA "IPSEC Authentication Methods"): ECDSA with SHA-256 on
// P-256, SHA-384 on P-384, SHA-512 on P-521.
const (
	authECDSA256 = 9
	authECDSA384 = 10
	authECDSA521 = 11
)

// AuthPRF returns the PRF that computes HASH_I and HASH_R for the phase 1
// authentication method authMethod (the Authentication Method attribute
// value). For ECDSA (9, 10, 11) strongSwan 5.9 uses HMAC-SHA2 of the curve
// size instead of the negotiated PRF (RFC 4754, 5 ties the hash to the
// curve), so iked must too; for every other method it returns negotiated.
func AuthPRF(negotiated PRF, authMethod uint16) PRF {
	var h HashAlgorithm
	switch authMethod {
	case authECDSA256:
		h = HashSHA2_256
	case authECDSA384:
		h = HashSHA2_384
	case authECDSA521:
		h = HashSHA2_512
	default:
		return negotiated
	}
	p, _ := NewPRF(h) // SHA-2 is always supported
	return p
}

// HashI computes HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b |
// IDii_b) (RFC 2409, 5). saiB is the whole body of the initiator's SA payload
// as sent (without the generic header); idiiB the ID payload body.
func HashI(prf PRF, skeyid, gxi, gxr, ckyI, ckyR, saiB, idiiB []byte) []byte {
	return compute(prf, skeyid, gxi, gxr, ckyI, ckyR, saiB, idiiB)
}

// HashR computes HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b |
// IDir_b) (RFC 2409, 5): the swapped order, still over the initiator's SA.
func HashR(prf PRF, skeyid, gxi, gxr, ckyI, ckyR, saiB, idirB []byte) []byte {
	return compute(prf, skeyid, gxr, gxi, ckyR, ckyI, saiB, idirB)
}

func midBytes(mid uint32) []byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], mid)
	return m[:]
}

// QuickModeHash1 computes HASH(1) = prf(SKEYID_a, M-ID | rest) (RFC 2409,
// 5.5), where rest is every payload after the HASH payload, generic headers
// included, as sent.
func QuickModeHash1(prf PRF, skeyidA []byte, mid uint32, rest []byte) []byte {
	return prf.Compute(skeyidA, midBytes(mid), rest)
}

// QuickModeHash2 computes HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest) (RFC
// 2409, 5.5); niB is the initiator's nonce payload body.
func QuickModeHash2(prf PRF, skeyidA []byte, mid uint32, niB, rest []byte) []byte {
	return prf.Compute(skeyidA, midBytes(mid), niB, rest)
}

// QuickModeHash3 computes HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
// (RFC 2409, 5.5; 0 is a single octet).
func QuickModeHash3(prf PRF, skeyidA []byte, mid uint32, niB, nrB []byte) []byte {
	return prf.Compute(skeyidA, octet0, midBytes(mid), niB, nrB)
}

// InformationalHash computes HASH(1) = prf(SKEYID_a, M-ID | N/D) of an
// informational exchange (RFC 2409, 5.7), where payloads is the notify or
// delete payload (and any after it), generic headers included.
func InformationalHash(prf PRF, skeyidA []byte, mid uint32, payloads []byte) []byte {
	return prf.Compute(skeyidA, midBytes(mid), payloads)
}
