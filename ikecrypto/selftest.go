package ikecrypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// kat is one known-answer check of the start-up self-test.
type kat struct {
	name  string
	check func() ([]byte, error)
	want  string // hex
}

// SelfTest runs a known-answer check of every algorithm the daemon can
// negotiate, so that a broken build or platform fails at start-up (message 6,
// "Could not start the cryptography system", exit 1) rather than in the
// middle of a negotiation with a peer. It takes a few milliseconds.
func SelfTest() error {
	return runSelfTest(selfTestKATs())
}

func runSelfTest(kats []kat) error {
	var errs []error
	for _, k := range kats {
		got, err := k.check()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k.name, err))
			continue
		}
		if want := unhex(k.want); !bytes.Equal(got, want) {
			errs = append(errs, fmt.Errorf("%s: known answer mismatch", k.name))
		}
	}
	if err := selfTestMODP(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("ikecrypto self-test: %w", errors.Join(errs...))
	}
	return nil
}

// unhex decodes the self-test's constant hex, ignoring spaces.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		return nil // never equal to a result: the check fails
	}
	return b
}

func hashKAT(h HashAlgorithm, msg string) func() ([]byte, error) {
	return func() ([]byte, error) {
		p, err := NewPRF(h)
		if err != nil {
			return nil, err
		}
		return p.Hash([]byte(msg)), nil
	}
}

func hmacKAT(h HashAlgorithm, key, msg string) func() ([]byte, error) {
	return func() ([]byte, error) {
		p, err := NewPRF(h)
		if err != nil {
			return nil, err
		}
		return p.Compute([]byte(key), []byte(msg)), nil
	}
}

func cbcKAT(e EncryptionAlgorithm, keyBits int, key, iv, plain string) func() ([]byte, error) {
	return func() ([]byte, error) {
		c, err := NewCipher(e, keyBits, unhex(key))
		if err != nil {
			return nil, err
		}
		p := unhex(plain)
		out := make([]byte, len(p))
		if err := c.EncryptCBC(out, p, unhex(iv)); err != nil {
			return nil, err
		}
		back := make([]byte, len(out))
		if err := c.DecryptCBC(back, out, unhex(iv)); err != nil {
			return nil, err
		}
		if !bytes.Equal(back, p) {
			return nil, errors.New("decryption does not invert encryption")
		}
		return out, nil
	}
}

// dhKAT checks that both sides' public values and the shared secret match.
func dhKAT(id GroupID, xi, xr, pubI, pubR string) func() ([]byte, error) {
	return func() ([]byte, error) {
		ki, err := NewPrivateKeyFromBytes(id, unhex(xi))
		if err != nil {
			return nil, err
		}
		kr, err := NewPrivateKeyFromBytes(id, unhex(xr))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(ki.PublicBytes(), unhex(pubI)) || !bytes.Equal(kr.PublicBytes(), unhex(pubR)) {
			return nil, errors.New("public value mismatch")
		}
		zi, err := ki.SharedSecret(kr.PublicBytes())
		if err != nil {
			return nil, err
		}
		zr, err := kr.SharedSecret(ki.PublicBytes())
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(zi, zr) {
			return nil, errors.New("shared secrets differ")
		}
		return zi, nil
	}
}

const jefe, jefeMsg = "Jefe", "what do ya want for nothing?"

func selfTestKATs() []kat {
	return []kat{
		// FIPS 180-4 / RFC 1321 "abc" digests (the phase 1 IV and NAT-D hashes).
		{"MD5", hashKAT(HashMD5, "abc"), "900150983cd24fb0d6963f7d28e17f72"},
		{"SHA-1", hashKAT(HashSHA1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"SHA2-256", hashKAT(HashSHA2_256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"SHA2-384", hashKAT(HashSHA2_384, "abc"), "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
		{"SHA2-512", hashKAT(HashSHA2_512, "abc"), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		// RFC 2202, 2 and 3, test case 2; RFC 4231, 4.3.
		{"HMAC-MD5", hmacKAT(HashMD5, jefe, jefeMsg), "750c783e6ab0b503eaa86e310a5db738"},
		{"HMAC-SHA-1", hmacKAT(HashSHA1, jefe, jefeMsg), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"HMAC-SHA2-256", hmacKAT(HashSHA2_256, jefe, jefeMsg), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"HMAC-SHA2-384", hmacKAT(HashSHA2_384, jefe, jefeMsg), "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"HMAC-SHA2-512", hmacKAT(HashSHA2_512, jefe, jefeMsg), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		// FIPS-197, C.1-C.3 (one block: CBC with a zero IV is ECB).
		{"AES-128", cbcKAT(EncryptionAES, 128, "000102030405060708090a0b0c0d0e0f", "00000000000000000000000000000000", "00112233445566778899aabbccddeeff"), "69c4e0d86a7b0430d8cdb78070b4c55a"},
		{"AES-192", cbcKAT(EncryptionAES, 192, "000102030405060708090a0b0c0d0e0f1011121314151617", "00000000000000000000000000000000", "00112233445566778899aabbccddeeff"), "dda97ca4864cdfe06eaf70a0ec0d7191"},
		{"AES-256", cbcKAT(EncryptionAES, 256, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00000000000000000000000000000000", "00112233445566778899aabbccddeeff"), "8ea2b7ca516745bfeafc49904b496089"},
		// NIST SP 800-38A, F.2.1: CBC chaining over four blocks.
		{"AES-128-CBC", cbcKAT(EncryptionAES, 128, "2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f",
			"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"),
			"7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
		// FIPS 81, Appendix C (CBC, "Now is the time for all ").
		{"DES-CBC", cbcKAT(EncryptionDES, 0, "0123456789abcdef", "1234567890abcdef", "4e6f77206973207468652074696d6520666f7220616c6c20"),
			"e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6"},
		// NIST SP 800-67 Rev. 1, Appendix B ("The qufck brown fox jump").
		{"3DES", cbcKAT(Encryption3DES, 0, "0123456789abcdef23456789abcdef01456789abcdef0123", "0000000000000000", "5468652071756663"),
			"a826fd8ce53b855f"},
		// Eric Young's Blowfish vectors (all-ones key and block).
		{"Blowfish", cbcKAT(EncryptionBlowfish, 64, "ffffffffffffffff", "0000000000000000", "ffffffffffffffff"), "51866fd5b85ecb8a"},
		// RFC 2144, B.1 (128-bit key).
		{"CAST-128", cbcKAT(EncryptionCAST, 0, "0123456712345678234567893456789a", "0000000000000000", "0123456789abcdef"), "238b4fe5847e44b2"},
		// RFC 5903, 8.1 (group 19, x | y without the 0x04 prefix) and RFC 7748, 6.1.
		{"ECP-256", dhKAT(GroupECP256, "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433", "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
			"dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c37725811805271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
			"d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf6356fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab"),
			"d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"},
		{"Curve25519", dhKAT(GroupCurve25519, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
			"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
			"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
		// strongSwan 5.9 run b-mm-psk-3des-modp1024-pfs: Ka expansion of a
		// 20-byte SKEYID_e into a 24-byte 3DES key (RFC 2409, Appendix B).
		{"Ka expansion", func() ([]byte, error) {
			p, err := NewPRF(HashSHA1)
			if err != nil {
				return nil, err
			}
			return ExpandKey(p, unhex("6ea5d58748d7fc99dcff7f8cba3a7ae023ab77dd"), 24), nil
		}, selfTestKa},
	}
}

// selfTestKa is the Ka strongSwan logged for the SKEYID_e above (both copied
// from testdata/strongswan-kat.txt, run b).
const selfTestKa = "c0086a0c33382eed06619c115e2d3f0c61cd1983aff65eae"

// selfTestMODP checks every MODP group: the constant-time bigmod
// exponentiation against math/big for a fixed exponent, and for groups up to
// 2048 bits also SharedSecret (including the y^q = 1 check of groups 22-24)
// and the refusal of p-1.
func selfTestMODP() error {
	x := unhex("c90fdaa2") // short: the check is of the arithmetic, not of secrecy
	for _, mp := range modpTable {
		g, err := newMODPGroup(mp, 0)
		if err != nil {
			return err
		}
		mg := g.(*modpGroup)
		k := newMODPKey(mg, x)
		p := new(big.Int).SetBytes(unhex(mp.pHex))
		gen := big.NewInt(2)
		if mp.gHex != "" {
			gen.SetBytes(unhex(mp.gHex))
		}
		xb := new(big.Int).SetBytes(x)
		want := new(big.Int).Exp(gen, xb, p).FillBytes(make([]byte, mg.PublicLen()))
		if !bytes.Equal(k.PublicBytes(), want) {
			return fmt.Errorf("%v: g^x mismatch", mp.id)
		}
		if mg.PublicLen() > 256 {
			// Above 2048 bits one exponentiation per group is enough to
			// catch a wrong constant; the SharedSecret path (validation,
			// padding) is the same code and is checked on the smaller
			// groups, keeping the self-test within its time budget.
			continue
		}
		// Shared secret with itself as peer: (g^x)^x.
		z, err := k.SharedSecret(want)
		if err != nil {
			return fmt.Errorf("%v: %w", mp.id, err)
		}
		wantZ := new(big.Int).Exp(new(big.Int).SetBytes(want), xb, p).FillBytes(make([]byte, mg.PublicLen()))
		if !bytes.Equal(z, wantZ) {
			return fmt.Errorf("%v: shared secret mismatch", mp.id)
		}
		pm1 := new(big.Int).Sub(p, big.NewInt(1)).FillBytes(make([]byte, mg.PublicLen()))
		if _, err := k.SharedSecret(pm1); err == nil {
			return fmt.Errorf("%v: p-1 accepted as a public value", mp.id)
		}
	}
	return nil
}
