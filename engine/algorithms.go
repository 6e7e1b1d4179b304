package engine

import (
	"errors"
	"fmt"
)

// Cipher is ESP's encryption algorithm as the kernel names it, with its key.
// For the counter and combined modes the key ends with the salt or nonce that
// RFC 3686, 5.1 / RFC 4106, 8.1 / RFC 4309, 7.1 take from KEYMAT, which is how
// XFRM wants it. ICVBits is nonzero exactly for a combined-mode (AEAD) cipher.
type Cipher struct {
	Name    string // "cbc(aes)", "rfc4106(gcm(aes))", ...
	Key     Key
	ICVBits int
}

// AEAD reports whether the cipher also authenticates (no Integrity then).
func (c *Cipher) AEAD() bool { return c != nil && c.ICVBits != 0 }

// Integrity is the authentication algorithm of ESP or AH, with its key and
// the truncated ICV length (RFC 2404 96 bits for SHA-1, RFC 4868, 2.3 half
// the output for SHA-2: 128 bits for sha256).
type Integrity struct {
	Name      string // "hmac(sha256)", ...
	Key       Key
	TruncBits int
}

// Compression is IPComp's algorithm (RFC 3173); it has no key.
type Compression struct {
	Name string // "deflate", "lzs", "lzjh"
}

// CipherSpec says what an IKEv1 ESP transform needs from the engine: the
// kernel's name, how many KEYMAT bytes to derive for it (key plus salt), and
// the ICV length of a combined mode. Quick Mode uses it to size KEYMAT.
type CipherSpec struct {
	Name     string
	KeyBytes int
	ICVBits  int
}

// IntegritySpec is the same for an authentication algorithm.
type IntegritySpec struct {
	Name      string
	KeyBytes  int
	TruncBits int
}

// ErrUnsupportedTransform is returned for a transform ID or attribute value
// the engine cannot hand to the kernel.
var ErrUnsupportedTransform = errors.New("engine: unsupported transform")

// ErrKeyLength is returned for a key length the algorithm does not allow.
var ErrKeyLength = errors.New("engine: invalid key length")

// ESPCipher maps an IKEv1 ESP transform ID (RFC 2407, 4.4.4 and the IANA
// "IPsec ESP Transform Identifiers" registry) and its Key Length attribute
// (RFC 2407, 4.5, in bits; 0 when absent) to the kernel's algorithm.
func ESPCipher(transformID uint16, keyBits int) (CipherSpec, error) {
	aesKey := func() (int, error) {
		// RFC 3602, 5.3: the Key Length attribute MUST be specified for AES.
		switch keyBits {
		case 128, 192, 256:
			return keyBits / 8, nil
		}
		return 0, fmt.Errorf("%w: %d bits for transform %d", ErrKeyLength, keyBits, transformID)
	}
	switch transformID {
	case 2: // ESP_DES, RFC 2405
		if keyBits != 0 && keyBits != 64 {
			return CipherSpec{}, fmt.Errorf("%w: %d bits for DES", ErrKeyLength, keyBits)
		}
		return CipherSpec{Name: "cbc(des)", KeyBytes: 8}, nil
	case 3: // ESP_3DES, RFC 2451
		if keyBits != 0 && keyBits != 192 {
			return CipherSpec{}, fmt.Errorf("%w: %d bits for 3DES", ErrKeyLength, keyBits)
		}
		return CipherSpec{Name: "cbc(des3_ede)", KeyBytes: 24}, nil
	case 6: // ESP_CAST, RFC 2451: 40..128 bits, default 128
		if keyBits == 0 {
			keyBits = 128
		}
		if keyBits < 40 || keyBits > 128 || keyBits%8 != 0 {
			return CipherSpec{}, fmt.Errorf("%w: %d bits for CAST", ErrKeyLength, keyBits)
		}
		return CipherSpec{Name: "cbc(cast5)", KeyBytes: keyBits / 8}, nil
	case 7: // ESP_BLOWFISH, RFC 2451: 40..448 bits, default 128
		if keyBits == 0 {
			keyBits = 128
		}
		if keyBits < 40 || keyBits > 448 || keyBits%8 != 0 {
			return CipherSpec{}, fmt.Errorf("%w: %d bits for Blowfish", ErrKeyLength, keyBits)
		}
		return CipherSpec{Name: "cbc(blowfish)", KeyBytes: keyBits / 8}, nil
	case 11: // ESP_NULL, RFC 2410
		return CipherSpec{Name: "ecb(cipher_null)"}, nil
	case 12: // ESP_AES (CBC), RFC 3602
		n, err := aesKey()
		return CipherSpec{Name: "cbc(aes)", KeyBytes: n}, err
	case 13: // ESP_AES-CTR, RFC 3686, 5.1: key then a 4-byte nonce
		n, err := aesKey()
		return CipherSpec{Name: "rfc3686(ctr(aes))", KeyBytes: n + 4}, err
	case 14, 15, 16: // ESP_AES-CCM_8/12/16, RFC 4309, 7.1: key then a 3-byte salt
		n, err := aesKey()
		return CipherSpec{Name: "rfc4309(ccm(aes))", KeyBytes: n + 3, ICVBits: []int{64, 96, 128}[transformID-14]}, err
	case 18, 19, 20: // ESP_AES-GCM_8/12/16, RFC 4106, 8.1: key then a 4-byte salt
		n, err := aesKey()
		return CipherSpec{Name: "rfc4106(gcm(aes))", KeyBytes: n + 4, ICVBits: []int{64, 96, 128}[transformID-18]}, err
	case 23: // ESP_NULL_AUTH_AES-GMAC, RFC 4543, 3.2 and 5
		n, err := aesKey()
		return CipherSpec{Name: "rfc4543(gcm(aes))", KeyBytes: n + 4, ICVBits: 128}, err
	}
	return CipherSpec{}, fmt.Errorf("%w: ESP transform ID %d", ErrUnsupportedTransform, transformID)
}

// AuthAlgorithm maps the IKEv1 Authentication Algorithm attribute of an ESP
// transform (RFC 2407, 4.5; SHA-2 values from RFC 4868, 2.1 and IANA) to the
// kernel's algorithm. SHA-256 is truncated to 128 bits as RFC 4868 says,
// which is strongSwan's default; its 96-bit compat mode is not supported.
func AuthAlgorithm(value uint16) (IntegritySpec, error) {
	switch value {
	case 1: // HMAC-MD5, RFC 2403
		return IntegritySpec{Name: "hmac(md5)", KeyBytes: 16, TruncBits: 96}, nil
	case 2: // HMAC-SHA, RFC 2404
		return IntegritySpec{Name: "hmac(sha1)", KeyBytes: 20, TruncBits: 96}, nil
	case 5: // HMAC-SHA2-256, RFC 4868
		return IntegritySpec{Name: "hmac(sha256)", KeyBytes: 32, TruncBits: 128}, nil
	case 6: // HMAC-SHA2-384
		return IntegritySpec{Name: "hmac(sha384)", KeyBytes: 48, TruncBits: 192}, nil
	case 7: // HMAC-SHA2-512
		return IntegritySpec{Name: "hmac(sha512)", KeyBytes: 64, TruncBits: 256}, nil
	case 9: // AES-XCBC-MAC, RFC 3566
		return IntegritySpec{Name: "xcbc(aes)", KeyBytes: 16, TruncBits: 96}, nil
	}
	return IntegritySpec{}, fmt.Errorf("%w: authentication algorithm %d", ErrUnsupportedTransform, value)
}

// AHTransform maps an IKEv1 AH transform ID (RFC 2407, 4.4.3; IANA) to the
// kernel's algorithm; the ID and the authentication attribute agree.
func AHTransform(transformID uint16) (IntegritySpec, error) {
	switch transformID {
	case 2: // AH_MD5
		return AuthAlgorithm(1)
	case 3: // AH_SHA
		return AuthAlgorithm(2)
	case 5, 6, 7: // AH_SHA2_256/384/512
		return AuthAlgorithm(transformID)
	case 9: // AH_AES-XCBC-MAC
		return AuthAlgorithm(9)
	}
	return IntegritySpec{}, fmt.Errorf("%w: AH transform ID %d", ErrUnsupportedTransform, transformID)
}

// IPCompTransform maps an IKEv1 IPComp transform ID (RFC 2407, 4.4.5) to the
// kernel's compression algorithm.
func IPCompTransform(transformID uint16) (Compression, error) {
	switch transformID {
	case 2: // IPCOMP_DEFLATE, RFC 2394
		return Compression{Name: "deflate"}, nil
	case 3: // IPCOMP_LZS, RFC 2395
		return Compression{Name: "lzs"}, nil
	case 4: // IPCOMP_LZJH, RFC 3051
		return Compression{Name: "lzjh"}, nil
	}
	return Compression{}, fmt.Errorf("%w: IPComp transform ID %d", ErrUnsupportedTransform, transformID)
}
