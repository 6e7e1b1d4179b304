package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func loadKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	k, rerr, kerr := readPrivateKey(path)
	if rerr != nil || kerr != nil {
		t.Fatal(rerr, kerr)
	}
	return k
}

// TestSignRSAMatchesOpenSSL: PKCS#1 v1.5 is deterministic, so Sign over
// the 20-byte hash must give exactly the bytes `openssl pkeyutl -sign`
// gave (raw PKCS#1 type 1 padding, no DigestInfo), and Verify must accept
// openssl's signature.
func TestSignRSAMatchesOpenSSL(t *testing.T) {
	dir := testDir(t)
	hash := mustRead(t, filepath.Join(dir, "hash20.bin"))
	want := mustRead(t, filepath.Join(dir, "sig-rsa-openssl.bin"))
	key := loadKey(t, filepath.Join(dir, "gw-rsa.pkcs1.pem"))
	got, err := Sign(rand.Reader, key, hash)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Sign differs from openssl pkeyutl -sign")
	}
	pub := readCert(t, filepath.Join(dir, "gw-rsa.pem")).PublicKey
	if err := Verify(pub, hash, want); err != nil {
		t.Errorf("Verify(openssl's signature): %v", err)
	}
	bad := append([]byte(nil), hash...)
	bad[0] ^= 1
	if err := Verify(pub, bad, want); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of another hash: %v", err)
	}
	if err := Verify(pub, hash, want[1:]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a short signature: %v", err)
	}
	// A signature with a DigestInfo (what rsa.SignPKCS1v15 with SHA-1 makes)
	// is not an IKEv1 signature.
	withInfo, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA1, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, hash, withInfo); err == nil {
		t.Error("Verify accepted a signature with a DigestInfo")
	}
}

// TestVerifyECDSAFromOpenSSL converts the DER ECDSA-Sig-Value openssl made
// to r|s (RFC 4754, 7) and verifies it.
func TestVerifyECDSAFromOpenSSL(t *testing.T) {
	dir := testDir(t)
	hash := mustRead(t, filepath.Join(dir, "hash32.bin"))
	der := mustRead(t, filepath.Join(dir, "sig-ecdsa-openssl.der"))
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Bytes(&r, cbasn1.INTEGER) || !seq.ReadASN1Bytes(&s, cbasn1.INTEGER) {
		t.Fatal("bad DER signature")
	}
	sig := make([]byte, 64)
	copy(sig[32-len(bytes.TrimLeft(r, "\x00")):32], bytes.TrimLeft(r, "\x00"))
	copy(sig[64-len(bytes.TrimLeft(s, "\x00")):], bytes.TrimLeft(s, "\x00"))
	pub := readCert(t, filepath.Join(dir, "gw-ecdsa.pem")).PublicKey
	if err := Verify(pub, hash, sig); err != nil {
		t.Errorf("Verify(openssl's ECDSA signature): %v", err)
	}
	sig[63] ^= 1
	if err := Verify(pub, hash, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a changed signature: %v", err)
	}
	if err := Verify(pub, hash, der); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a DER signature: %v", err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	dir := testDir(t)
	keys := map[string]crypto.Signer{
		"rsa":  loadKey(t, filepath.Join(dir, "gw-rsa.pkcs8.der")),
		"p256": loadKey(t, filepath.Join(dir, "gw-ecdsa.sec1.der")),
	}
	for _, c := range []elliptic.Curve{elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[c.Params().Name] = k
	}
	wantLen := map[string]int{"rsa": 256, "p256": 64, "P-384": 96, "P-521": 132}
	wantHash := map[string]crypto.Hash{"p256": crypto.SHA256, "P-384": crypto.SHA384, "P-521": crypto.SHA512}
	wantMethod := map[string]uint16{"rsa": 3, "p256": 9, "P-384": 10, "P-521": 11}
	for name, k := range keys {
		h, ok := ECDSAHash(k.Public())
		if h != wantHash[name] || ok != (name != "rsa") {
			t.Errorf("%s: ECDSAHash = %v, %v", name, h, ok)
		}
		if m, ok := AuthMethod(k.Public()); !ok || m != wantMethod[name] {
			t.Errorf("%s: AuthMethod = %d, %v", name, m, ok)
		}
		for _, n := range []int{16, 20, 32, 48, 64} {
			hash := bytes.Repeat([]byte{byte(n)}, n)
			sig, err := Sign(rand.Reader, k, hash)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(sig) != wantLen[name] {
				t.Errorf("%s: signature of %d bytes, want %d", name, len(sig), wantLen[name])
			}
			if err := Verify(k.Public(), hash, sig); err != nil {
				t.Errorf("%s/%d: %v", name, n, err)
			}
			hash[0] ^= 1
			if err := Verify(k.Public(), hash, sig); err == nil {
				t.Errorf("%s/%d: verified another hash", name, n)
			}
		}
	}
	if _, err := Sign(rand.Reader, keys["rsa"], nil); err == nil {
		t.Error("signed nothing")
	}
}
