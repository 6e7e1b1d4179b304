package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrKeyMode says a private key file can be read by group or others. The
// daemon refuses such a key, as ssh does, because anybody on the machine
// could have copied it.
type ErrKeyMode struct {
	File string
	Mode fs.FileMode
}

func (e *ErrKeyMode) Error() string {
	return fmt.Sprintf("private key file %s has mode %04o: it is readable by group or others; make it readable by its owner only (chmod 600 %s)",
		e.File, uint32(e.Mode.Perm()), e.File)
}

// errKeyBroken says a readable key file holds no key pki can use.
var errKeyBroken = errors.New("pki: no RSA or ECDSA private key in PKCS#1, PKCS#8 or SEC 1 form")

// readPrivateKey reads an RSA or ECDSA private key in PKCS#1, PKCS#8 or
// SEC 1, PEM or DER. A read failure or a bad mode is returned as readErr
// (message 15), a key that does not decode as keyErr (message 24).
func readPrivateKey(path string) (key crypto.Signer, readErr, keyErr error) {
	b, fi, err := ReadBounded(path)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, nil, fmt.Errorf("private key file %s: %w", path, err)
		}
		return nil, err, nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &ErrKeyMode{File: path, Mode: fi.Mode()}, nil
	}
	if err := CheckOwner(path, fi); err != nil {
		return nil, err, nil
	}
	key, keyErr = keyFromFile(path, b)
	return key, nil, keyErr
}

// keyFromFile decodes the private key file contents b and then wipes b and
// every decoded PEM block, so that the key's bytes live on only inside
// the key itself.
func keyFromFile(path string, b []byte) (crypto.Signer, error) {
	defer clear(b)
	if encryptedPEM(b) {
		return nil, fmt.Errorf("private key file %s is encrypted: iked reads unencrypted keys only (openssl pkey -in FILE -out NEWFILE, then chmod 600 NEWFILE)", path)
	}
	ders, found := pemBlocks(b, "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
	defer func() {
		for _, d := range ders {
			clear(d)
		}
	}()
	if !found {
		ders = [][]byte{b}
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("private key file %s: %w (no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)", path, errKeyBroken)
	}
	key, err := parsePrivateKey(ders[0])
	if err != nil {
		return nil, fmt.Errorf("private key file %s: %w", path, err)
	}
	return key, nil
}

// encryptedPEM reports whether b holds a PKCS#8 encrypted key or a legacy
// PEM key with a Proc-Type: 4,ENCRYPTED header.
func encryptedPEM(b []byte) bool {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return false
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") {
			return true
		}
	}
}

// parsePrivateKey tries the three encodings in turn: which one a DER blob
// is in is not marked outside PEM.
func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return checkKey(k)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errKeyBroken
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return checkKey(k)
	}
	return nil, fmt.Errorf("pki: private key of type %T: only RSA and ECDSA authenticate IKEv1", k)
}

// checkKey refuses curves IKEv1 has no authentication method for (RFC
// 4754 defines P-256, P-384 and P-521).
func checkKey(k *ecdsa.PrivateKey) (crypto.Signer, error) {
	if _, ok := ECDSAHash(&k.PublicKey); !ok {
		return nil, fmt.Errorf("pki: ECDSA key on curve %s: only P-256, P-384 and P-521 authenticate IKEv1", k.Curve.Params().Name)
	}
	return k, nil
}

// supportedPublicKey reports whether a certificate's key can authenticate
// IKEv1: RSA, or ECDSA on a curve of RFC 4754.
func supportedPublicKey(pub crypto.PublicKey) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return true
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return true
		}
	}
	return false
}

// keyMatches reports whether a private key belongs to a certificate's
// public key.
func keyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := key.Public().(equaler)
	return ok && e.Equal(pub)
}
