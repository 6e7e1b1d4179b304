package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// ErrBadSignature says a SIG payload does not verify.
var ErrBadSignature = errors.New("pki: signature does not verify")

// Sign makes the SIG payload's data for IKEv1 (RFC 2409, 5.1) over hash,
// which is HASH_I or HASH_R. RSA: PKCS#1 v1.5 type 1 padding of the raw
// hash with no DigestInfo, as IKEv1 peers (strongSwan's
// SIGN_RSA_EMSA_PKCS1_NULL) expect. ECDSA: the hash is signed as it is and
// the signature is r|s, each the curve's size (RFC 4754, 7; strongSwan's
// SIGN_ECDSA_WITH_NULL); phase 1 computes that hash with the HMAC that
// ECDSAHash names. rand nil means crypto/rand.
func Sign(rand io.Reader, key crypto.Signer, hash []byte) ([]byte, error) {
	if len(hash) == 0 {
		return nil, errors.New("pki: nothing to sign")
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		// RFC 2409, 5.1: the signature is the private key operation on
		// the PKCS#1 type 1 padded hash; crypto.Hash(0) omits DigestInfo.
		return rsa.SignPKCS1v15(rand, k, crypto.Hash(0), hash)
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand, k, hash)
		if err != nil {
			return nil, err
		}
		// RFC 4754, 7: r and s, each as a big-endian integer of the
		// curve's size.
		n := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n)
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out, nil
	}
	return nil, fmt.Errorf("pki: cannot sign with a %T", key)
}

// Verify checks a SIG payload's data against hash with the peer's public
// key, the inverse of Sign. It returns ErrBadSignature (wrapped) when the
// signature is wrong.
func Verify(pub crypto.PublicKey, hash, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return fmt.Errorf("%w: RSA signature of %d bytes, key of %d", ErrBadSignature, len(sig), k.Size())
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.Hash(0), hash, sig); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return fmt.Errorf("%w: ECDSA signature of %d bytes, want %d", ErrBadSignature, len(sig), 2*n)
		}
		r := new(big.Int).SetBytes(sig[:n])
		s := new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(k, hash, r, s) {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("pki: cannot verify with a %T", pub)
}

// ECDSAHash returns the hash whose HMAC computes HASH_I and HASH_R when
// authenticating with an ECDSA key (RFC 4754, 3: SHA-256 for P-256,
// SHA-384 for P-384, SHA-512 for P-521), and false for other keys, which
// use the negotiated PRF.
func ECDSAHash(pub crypto.PublicKey) (crypto.Hash, bool) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, false
	}
	switch k.Curve {
	case elliptic.P256():
		return crypto.SHA256, true
	case elliptic.P384():
		return crypto.SHA384, true
	case elliptic.P521():
		return crypto.SHA512, true
	}
	return 0, false
}

// AuthMethod returns the IKEv1 authentication method attribute value
// (RFC 2409, Appendix A; RFC 4754, 3 for ECDSA) that a key authenticates
// with: 3 for RSA signatures, 9, 10 and 11 for ECDSA with SHA-256 on
// P-256, SHA-384 on P-384 and SHA-512 on P-521; false for other keys.
func AuthMethod(pub crypto.PublicKey) (uint16, bool) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return 3, true
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return 9, true
		case elliptic.P384():
			return 10, true
		case elliptic.P521():
			return 11, true
		}
	}
	return 0, false
}
