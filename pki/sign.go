package pki

import (
	"crypto"
	"io"
)

// Sign makes the SIG payload's data for IKEv1 (RFC 2409, 5.1) over hash,
// which is HASH_I or HASH_R. RSA: PKCS#1 v1.5 type 1 padding of the raw
// hash with no DigestInfo, as IKEv1 peers (strongSwan's
// SIGN_RSA_EMSA_PKCS1_NULL) expect. ECDSA: the hash is signed as it is and
// the signature is r|s, each the curve's size (RFC 4754, 7; strongSwan's
// SIGN_ECDSA_WITH_NULL).
func Sign(rand io.Reader, key crypto.Signer, hash []byte) ([]byte, error) {
	return nil, errNotImplemented
}

// Verify checks a SIG payload's data against hash with the peer's public
// key, the inverse of Sign.
func Verify(pub crypto.PublicKey, hash, sig []byte) error {
	return errNotImplemented
}

// ECDSAHash returns the hash whose HMAC computes HASH_I and HASH_R when
// authenticating with an ECDSA key (RFC 4754, 3: SHA-256 for P-256,
// SHA-384 for P-384, SHA-512 for P-521), and false for other keys, which
// use the negotiated PRF.
func ECDSAHash(pub crypto.PublicKey) (crypto.Hash, bool) {
	return 0, false
}
