package ikecrypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeyLen(t *testing.T) {
	for _, c := range []struct {
		e       EncryptionAlgorithm
		keyBits int
		want    int // 0: refused
	}{
		{EncryptionDES, 0, 8}, {EncryptionDES, 64, 8}, {EncryptionDES, 56, 0},
		{Encryption3DES, 0, 24}, {Encryption3DES, 192, 24}, {Encryption3DES, 168, 0},
		{EncryptionAES, 0, 0}, {EncryptionAES, 128, 16}, {EncryptionAES, 192, 24}, {EncryptionAES, 256, 32}, {EncryptionAES, 512, 0},
		{EncryptionBlowfish, 0, 16}, {EncryptionBlowfish, 40, 5}, {EncryptionBlowfish, 448, 56}, {EncryptionBlowfish, 456, 0}, {EncryptionBlowfish, 41, 0},
		{EncryptionCAST, 0, 16}, {EncryptionCAST, 128, 16}, {EncryptionCAST, 80, 0},
		{EncryptionIDEA, 0, 0}, {EncryptionRC5, 0, 0}, {EncryptionCamellia, 128, 0}, {99, 0, 0},
	} {
		got, err := c.e.KeyLen(c.keyBits)
		if c.want == 0 {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v/%d: accepted (%d, %v)", c.e, c.keyBits, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v/%d: %d, %v; want %d", c.e, c.keyBits, got, err, c.want)
		}
	}
}

func TestWeakKeys(t *testing.T) {
	for _, w := range desWeakKeys {
		k := w
		if !IsWeakDESKey(k[:]) {
			t.Errorf("%x not weak", k)
		}
		k[3] ^= 1 // parity bit only: still the same DES key
		if !IsWeakDESKey(k[:]) {
			t.Errorf("%x (parity flipped) not weak", k)
		}
		if _, err := NewCipher(EncryptionDES, 0, k[:]); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%x: NewCipher err = %v", k, err)
		}
	}
	if IsWeakDESKey(unhex("0123456789abcdef")) || IsWeakDESKey([]byte{1, 1}) {
		t.Error("ordinary key reported weak")
	}
	k1, k2 := unhex("0123456789abcdef"), unhex("23456789abcdef01")
	for _, k := range [][]byte{
		append(append(append([]byte{}, k1...), k1...), k2...), // K1 == K2
		append(append(append([]byte{}, k2...), k1...), k1...), // K2 == K3
	} {
		if _, err := NewCipher(Encryption3DES, 0, k); !errors.Is(err, ErrWeakKey) {
			t.Errorf("degenerate 3DES key %x: err = %v", k, err)
		}
	}
	// K1 == K3 is two-key 3DES, allowed.
	if _, err := NewCipher(Encryption3DES, 0, append(append(append([]byte{}, k1...), k2...), k1...)); err != nil {
		t.Errorf("two-key 3DES refused: %v", err)
	}
}

func TestCipherInputChecks(t *testing.T) {
	c, err := NewCipher(EncryptionAES, 128, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	if c.Algorithm() != EncryptionAES || c.BlockSize() != 16 || c.KeyLen() != 16 {
		t.Errorf("accessors: %v %d %d", c.Algorithm(), c.BlockSize(), c.KeyLen())
	}
	iv := make([]byte, 16)
	for _, bad := range []struct {
		dst, src, iv []byte
	}{
		{make([]byte, 15), make([]byte, 15), iv},
		{make([]byte, 16), make([]byte, 16), iv[:8]},
		{make([]byte, 8), make([]byte, 16), iv},
	} {
		if c.EncryptCBC(bad.dst, bad.src, bad.iv) == nil || c.DecryptCBC(bad.dst, bad.src, bad.iv) == nil {
			t.Errorf("accepted dst %d src %d iv %d", len(bad.dst), len(bad.src), len(bad.iv))
		}
	}
	if _, err := NewCipher(EncryptionAES, 128, make([]byte, 15)); err == nil {
		t.Error("15-byte AES-128 key accepted")
	}
	// In place: DecryptCBC(buf, buf, iv) inverts EncryptCBC.
	plain := bytes.Repeat([]byte("0123456789abcdef"), 3)
	buf := append([]byte(nil), plain...)
	if err := c.EncryptCBC(buf, buf, iv); err != nil {
		t.Fatal(err)
	}
	if err := c.DecryptCBC(buf, buf, iv); err != nil || !bytes.Equal(buf, plain) {
		t.Errorf("in-place round trip: %v", err)
	}
}

func TestEncryptionAlgorithmString(t *testing.T) {
	if EncryptionAES.String() != "AES-CBC" || Encryption3DES.String() != "3DES-CBC" || EncryptionAlgorithm(42).String() != "EncryptionAlgorithm(42)" {
		t.Error("String names")
	}
	if HashSHA1.String() != "SHA" || HashSHA2_256.String() != "SHA2-256" || HashAlgorithm(9).String() != "HashAlgorithm(9)" {
		t.Error("hash names")
	}
}
