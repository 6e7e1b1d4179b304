package ikecrypto

// Constant octets appended to the SKEYID_d/_a/_e inputs (RFC 2409, 5).
var (
	octet0 = []byte{0}
	octet1 = []byte{1}
	octet2 = []byte{2}
)

// KeyMaterial is the keying state of an ISAKMP SA (RFC 2409, 3.2 and 5).
// SKEYID_e is kept for completeness; the cipher key is Ka (EncryptionKey).
type KeyMaterial struct {
	SKEYID  []byte
	SKEYIDd []byte // derives Quick Mode KEYMAT
	SKEYIDa []byte // authenticates phase 2 and informational messages
	SKEYIDe []byte // expanded into the phase 1 cipher key Ka
}

// SKEYIDPreSharedKey computes SKEYID = prf(pre-shared-key, Ni_b | Nr_b) for
// pre-shared key authentication (RFC 2409, 5.4). ni and nr are the nonce
// payload bodies.
func SKEYIDPreSharedKey(prf PRF, psk, ni, nr []byte) []byte {
	return compute(prf, psk, ni, nr)
}

// SKEYIDSignature computes SKEYID = prf(Ni_b | Nr_b, g^xy) for signature
// authentication (RFC 2409, 5.1).
func SKEYIDSignature(prf PRF, ni, nr, gxy []byte) []byte {
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	return prf.Compute(key, gxy)
}

// DeriveKeyMaterial computes the three keys derived from SKEYID (RFC 2409, 5):
//
//	SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//	SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//	SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
//
// gxy is the shared secret as Group's SharedSecret returns it, ckyI and ckyR
// the 8-byte cookies of the ISAKMP header.
//
// With the HMAC PRF the three keys are made in one buffer, each with no
// room to grow into the next: an SA keeps (and Wipe clears) all three for
// its life, so one object serves where three did.
func DeriveKeyMaterial(prf PRF, skeyid, gxy, ckyI, ckyR []byte) KeyMaterial {
	h, ok := prf.(hmacPRF)
	if !ok {
		d := prf.Compute(skeyid, gxy, ckyI, ckyR, octet0)
		a := prf.Compute(skeyid, d, gxy, ckyI, ckyR, octet1)
		e := prf.Compute(skeyid, a, gxy, ckyI, ckyR, octet2)
		return KeyMaterial{SKEYID: skeyid, SKEYIDd: d, SKEYIDa: a, SKEYIDe: e}
	}
	n := h.Size()
	k := make([]byte, 0, 3*n)
	k = h.appendMAC(k, skeyid, gxy, ckyI, ckyR, octet0)
	k = h.appendMAC(k, skeyid, k[:n], gxy, ckyI, ckyR, octet1)
	k = h.appendMAC(k, skeyid, k[n:2*n], gxy, ckyI, ckyR, octet2)
	return KeyMaterial{SKEYID: skeyid, SKEYIDd: k[:n:n], SKEYIDa: k[n : 2*n : 2*n], SKEYIDe: k[2*n : 3*n : 3*n]}
}

// Wipe overwrites the keys, so that a deleted SA leaves no key in memory
// longer than the garbage collector makes unavoidable.
func (k *KeyMaterial) Wipe() {
	for _, b := range [][]byte{k.SKEYID, k.SKEYIDd, k.SKEYIDa, k.SKEYIDe} {
		clear(b)
	}
}

// ExpandKey returns keyLen bytes of Ka from SKEYID_e (RFC 2409, Appendix B):
// SKEYID_e cut to keyLen when it is long enough, else the first keyLen bytes
// of K1 | K2 | ... with K1 = prf(SKEYID_e, 0) (0 a single octet) and
// Ki+1 = prf(SKEYID_e, Ki). strongSwan 5.9 does exactly this.
func ExpandKey(prf PRF, skeyidE []byte, keyLen int) []byte {
	if keyLen <= 0 {
		return nil
	}
	if len(skeyidE) >= keyLen {
		return append([]byte(nil), skeyidE[:keyLen]...)
	}
	ka := make([]byte, 0, keyLen+prf.Size())
	k := prf.Compute(skeyidE, octet0)
	for {
		ka = append(ka, k...)
		if len(ka) >= keyLen {
			break
		}
		k = prf.Compute(skeyidE, k)
	}
	clear(ka[keyLen:])
	return ka[:keyLen:keyLen]
}

// EncryptionKey returns Ka for cipher e with the negotiated key length
// attribute keyBits, expanded from SKEYID_e, and the Cipher keyed with it.
// A weak DES or degenerate 3DES Ka yields ErrWeakKey.
func EncryptionKey(prf PRF, skeyidE []byte, e EncryptionAlgorithm, keyBits int) ([]byte, Cipher, error) {
	n, err := e.KeyLen(keyBits)
	if err != nil {
		return nil, nil, err
	}
	ka := ExpandKey(prf, skeyidE, n)
	c, err := NewCipher(e, keyBits, ka)
	if err != nil {
		clear(ka)
		return nil, nil, err
	}
	return ka, c, nil
}
