package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"net/netip"
	"testing"
)

func mustPRF(t testing.TB, h HashAlgorithm) PRF {
	t.Helper()
	p, err := NewPRF(h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPRFUnsupported(t *testing.T) {
	for _, h := range []HashAlgorithm{0, HashTiger, 7} {
		if _, err := NewPRF(h); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%v: err = %v", h, err)
		}
		if h.Supported() || h.Size() != 0 {
			t.Errorf("%v reported supported", h)
		}
	}
}

// TestExpandKeyDefinition checks Appendix B against a direct HMAC chain,
// including lengths at and around PRF output multiples.
func TestExpandKeyDefinition(t *testing.T) {
	p := mustPRF(t, HashSHA1)
	e := []byte("0123456789abcdef0123")
	k1 := hmac.New(sha1.New, e)
	k1.Write([]byte{0})
	K1 := k1.Sum(nil)
	k2 := hmac.New(sha1.New, e)
	k2.Write(K1)
	K2 := k2.Sum(nil)
	chain := append(append([]byte{}, K1...), K2...)
	for _, n := range []int{21, 24, 32, 40} {
		expect(t, "Ka", ExpandKey(p, e, n), chain[:n])
	}
	// Long enough: SKEYID_e itself, cut (strongSwan does not expand).
	expect(t, "Ka from long SKEYID_e", ExpandKey(p, e, 16), e[:16])
	expect(t, "Ka exact", ExpandKey(p, e, 20), e)
	if ExpandKey(p, e, 0) != nil {
		t.Error("zero length")
	}
}

func TestKeymatDefinition(t *testing.T) {
	p := mustPRF(t, HashSHA2_256)
	d, gxy, spi, ni, nr := []byte("skeyid_d"), []byte("gqmxy"), []byte{1, 2, 3, 4}, []byte("ni"), []byte("nr")
	seed := append(append(append(append(append([]byte{}, gxy...), 3), spi...), ni...), nr...)
	m := hmac.New(sha256.New, d)
	m.Write(seed)
	K1 := m.Sum(nil)
	m = hmac.New(sha256.New, d)
	m.Write(K1)
	m.Write(seed)
	K2 := m.Sum(nil)
	want := append(K1, K2...)
	got := Keymat(p, d, gxy, ProtoESP, spi, ni, nr, 48)
	expect(t, "KEYMAT", got, want[:48])
	enc, integ := SAKeys(p, d, gxy, ProtoESP, spi, ni, nr, 32, 16)
	expect(t, "enc", enc, want[:32])
	expect(t, "integ", integ, want[32:48])
	if Keymat(p, d, nil, ProtoESP, spi, ni, nr, 0) != nil {
		t.Error("zero length")
	}
}

func TestAuthPRF(t *testing.T) {
	neg := mustPRF(t, HashSHA1)
	for m, want := range map[uint16]HashAlgorithm{1: HashSHA1, 3: HashSHA1, 9: HashSHA2_256, 10: HashSHA2_384, 11: HashSHA2_512, 65001: HashSHA1} {
		if got := AuthPRF(neg, m).Algorithm(); got != want {
			t.Errorf("method %d: %v, want %v", m, got, want)
		}
	}
}

func TestIVCut(t *testing.T) {
	p := mustPRF(t, HashSHA2_256)
	iv := Phase1IV(p, []byte("gxi"), []byte("gxr"), 8)
	expect(t, "phase 1 IV", iv, p.Hash([]byte("gxigxr"))[:8])
	iv2 := Phase2IV(p, []byte("lastblk!"), 0x01020304, 16)
	expect(t, "phase 2 IV", iv2, p.Hash([]byte("lastblk!\x01\x02\x03\x04"))[:16])
}

func TestNATDHashIPv6(t *testing.T) {
	p := mustPRF(t, HashSHA1)
	ci, cr := []byte("cookie-i"), []byte("cookie-r")
	ap := netip.MustParseAddrPort("[2001:db8::1]:4500")
	want := p.Hash(ci, cr, netip.MustParseAddr("2001:db8::1").AsSlice(), []byte{0x11, 0x94})
	expect(t, "NAT-D v6", NATDHash(p, ci, cr, ap), want)
	// IPv4-mapped: hashed as the 4-byte address that was on the wire.
	m := netip.MustParseAddrPort("[::ffff:192.0.2.1]:500")
	v4 := netip.MustParseAddrPort("192.0.2.1:500")
	expect(t, "NAT-D mapped", NATDHash(p, ci, cr, m), NATDHash(p, ci, cr, v4))
}

func TestKeyMaterialWipe(t *testing.T) {
	p := mustPRF(t, HashSHA1)
	km := DeriveKeyMaterial(p, []byte("skeyid-skeyid-skeyid"), []byte("gxy"), make([]byte, 8), make([]byte, 8))
	km.Wipe()
	for _, b := range [][]byte{km.SKEYID, km.SKEYIDd, km.SKEYIDa, km.SKEYIDe} {
		if !bytes.Equal(b, make([]byte, len(b))) {
			t.Error("key not wiped")
		}
	}
}

func TestEncryptionKeyErrors(t *testing.T) {
	p := mustPRF(t, HashSHA1)
	if _, _, err := EncryptionKey(p, make([]byte, 20), EncryptionAES, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("AES without key length: %v", err)
	}
	// A SKEYID_e whose first 8 bytes are a weak DES key is refused.
	weak := append(append([]byte{}, desWeakKeys[0][:]...), make([]byte, 12)...)
	if _, _, err := EncryptionKey(p, weak, EncryptionDES, 0); !errors.Is(err, ErrWeakKey) {
		t.Errorf("weak DES Ka: %v", err)
	}
}

// BenchmarkPhase1Derivation is the whole key schedule of a PSK Main Mode
// with 2048-bit MODP, AES-256 and HMAC-SHA1 (the DH computation excluded;
// see BenchmarkDH): SKEYID, SKEYID_d/a/e, Ka expansion, IV, HASH_I, HASH_R.
func BenchmarkPhase1Derivation(b *testing.B) {
	p := mustPRF(b, HashSHA1)
	gxi, gxr, gxy := make([]byte, 256), make([]byte, 256), make([]byte, 256)
	ni, nr, ci, cr := make([]byte, 32), make([]byte, 32), make([]byte, 8), make([]byte, 8)
	sa, id := make([]byte, 56), make([]byte, 8)
	for b.Loop() {
		skeyid := SKEYIDPreSharedKey(p, []byte("psk"), ni, nr)
		km := DeriveKeyMaterial(p, skeyid, gxy, ci, cr)
		if _, _, err := EncryptionKey(p, km.SKEYIDe, EncryptionAES, 256); err != nil {
			b.Fatal(err)
		}
		Phase1IV(p, gxi, gxr, 16)
		HashI(p, skeyid, gxi, gxr, ci, cr, sa, id)
		HashR(p, skeyid, gxi, gxr, ci, cr, sa, id)
	}
}
