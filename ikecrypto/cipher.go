package ikecrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"errors"
	"fmt"

	"golang.org/x/crypto/blowfish"
	"golang.org/x/crypto/cast5"
)

// EncryptionAlgorithm is the value of the phase 1 Encryption Algorithm
// attribute (RFC 2409, Appendix A, attribute class 1; AES-CBC from RFC 3602,
// 5 and the IANA registry). Typed so that wire values print by name.
type EncryptionAlgorithm uint16

// Phase 1 encryption algorithm values (RFC 2409, Appendix A; IANA).
const (
	EncryptionDES      EncryptionAlgorithm = 1
	EncryptionIDEA     EncryptionAlgorithm = 2
	EncryptionBlowfish EncryptionAlgorithm = 3
	EncryptionRC5      EncryptionAlgorithm = 4
	Encryption3DES     EncryptionAlgorithm = 5
	EncryptionCAST     EncryptionAlgorithm = 6
	EncryptionAES      EncryptionAlgorithm = 7
	EncryptionCamellia EncryptionAlgorithm = 8
)

// String returns the registry name of e.
func (e EncryptionAlgorithm) String() string {
	switch e {
	case EncryptionDES:
		return "DES-CBC"
	case EncryptionIDEA:
		return "IDEA-CBC"
	case EncryptionBlowfish:
		return "Blowfish-CBC"
	case EncryptionRC5:
		return "RC5-R16-B64-CBC"
	case Encryption3DES:
		return "3DES-CBC"
	case EncryptionCAST:
		return "CAST-CBC"
	case EncryptionAES:
		return "AES-CBC"
	case EncryptionCamellia:
		return "CAMELLIA-CBC"
	}
	return fmt.Sprintf("EncryptionAlgorithm(%d)", uint16(e))
}

// ErrWeakKey is returned when the derived key of a DES or 3DES cipher is weak,
// semi-weak or degenerate (see IsWeakDESKey, IsDegenerate3DESKey); the SA
// must then be abandoned and renegotiated with fresh nonces.
var ErrWeakKey = errors.New("ikecrypto: weak cipher key")

// errBlocks is returned for CBC input that is not a whole number of blocks
// or an IV of the wrong size; the codec must have rejected such a message.
var errBlocks = errors.New("ikecrypto: CBC input is not a whole number of blocks or IV size is wrong")

// KeyLen returns the key length in bytes of e for the phase 1 Key Length
// attribute keyBits (RFC 2409, Appendix A, class 14; 0 when the attribute is
// absent). It rejects lengths the algorithm does not allow, so that a proposal
// carrying one is refused before keys are derived:
//
//	DES        64 bits only (attribute must be absent)
//	3DES       192 bits only (attribute must be absent)
//	AES        128, 192 or 256, attribute required (RFC 3602, 5)
//	Blowfish   40..448 in steps of 8, default 128 (RFC 2409, Appendix A)
//	CAST       128 only (default); shorter CAST-128 keys change the
//	           round count (RFC 2144, 2.5), which Go's cast5 lacks
func (e EncryptionAlgorithm) KeyLen(keyBits int) (int, error) {
	// The error is made only when returned: formatting it on every call
	// (twice per ISAKMP SA) cost more than the rest of the call.
	bad := func() (int, error) { return 0, fmt.Errorf("%w: %v with key length %d", ErrUnsupported, e, keyBits) }
	switch e {
	case EncryptionDES:
		if keyBits != 0 && keyBits != 64 {
			return bad()
		}
		return 8, nil
	case Encryption3DES:
		if keyBits != 0 && keyBits != 192 {
			return bad()
		}
		return 24, nil
	case EncryptionAES:
		switch keyBits {
		case 128, 192, 256:
			return keyBits / 8, nil
		}
		return bad()
	case EncryptionBlowfish:
		if keyBits == 0 {
			return 16, nil
		}
		if keyBits < 40 || keyBits > 448 || keyBits%8 != 0 {
			return bad()
		}
		return keyBits / 8, nil
	case EncryptionCAST:
		if keyBits != 0 && keyBits != 128 {
			return bad()
		}
		return 16, nil
	}
	return bad()
}

// BlockSize returns the cipher block size of e in bytes (also the IV size),
// or 0 if e is not supported.
func (e EncryptionAlgorithm) BlockSize() int {
	switch e {
	case EncryptionDES, Encryption3DES, EncryptionBlowfish, EncryptionCAST:
		return 8
	case EncryptionAES:
		return aes.BlockSize
	}
	return 0
}

// Cipher is the CBC cipher of an ISAKMP SA. isakmp's message protection calls
// it; it keeps no IV state because the IV chain of RFC 2409, Appendix B is
// per exchange and belongs to the caller.
type Cipher interface {
	// Algorithm returns the negotiated algorithm.
	Algorithm() EncryptionAlgorithm
	// BlockSize returns the block and IV size in bytes.
	BlockSize() int
	// KeyLen returns the key length in bytes.
	KeyLen() int
	// EncryptCBC encrypts src, a whole number of blocks, into dst (which
	// may be src) with iv. The last block of dst is the next IV.
	EncryptCBC(dst, src, iv []byte) error
	// DecryptCBC decrypts src into dst (which may be src) with iv. The
	// last block of src is the next IV: save it before decrypting in place.
	DecryptCBC(dst, src, iv []byte) error
	// Block returns the block cipher under the CBC mode, keyed with Ka,
	// for isakmp's message protection (isakmp.Seal, Message.Open), so
	// that the padding and IV chain are written once, there.
	Block() cipher.Block
}

type cbcCipher struct {
	alg  EncryptionAlgorithm
	klen int
	bs   int
	// key is the caller's Ka, not a copy: clearing it (the ISAKMP SA's
	// Wipe) leaves the cipher without a key.
	key []byte
	// block is kept only for the ciphers whose key schedule is dear to
	// build (Blowfish, CAST); AES, DES and 3DES build theirs from key on
	// each use (Block), so that an idle ISAKMP SA does not hold one: an
	// AES schedule is about 500 bytes, a build about 0.1 µs, and a
	// daemon holding 100,000 SAs uses few of them at a time
	// (docs/performance.md, "Memory at scale").
	block cipher.Block
}

// NewCipher returns the CBC cipher e with key, whose length must be
// e.KeyLen(keyBits). Weak DES keys and degenerate 3DES keys are refused with
// ErrWeakKey (RFC 2405; RFC 2451, 2.3). The cipher keeps key itself (not
// a copy): the caller must not change it but to wipe it.
func NewCipher(e EncryptionAlgorithm, keyBits int, key []byte) (Cipher, error) {
	klen, err := e.KeyLen(keyBits)
	if err != nil {
		return nil, err
	}
	if len(key) != klen {
		return nil, fmt.Errorf("ikecrypto: %v key is %d bytes, want %d", e, len(key), klen)
	}
	switch e {
	case EncryptionDES:
		if IsWeakDESKey(key) {
			return nil, ErrWeakKey
		}
	case Encryption3DES:
		if IsDegenerate3DESKey(key) {
			return nil, ErrWeakKey
		}
	}
	c := &cbcCipher{alg: e, klen: klen, bs: e.BlockSize(), key: key}
	if e == EncryptionBlowfish || e == EncryptionCAST {
		b, err := newBlock(e, key)
		if err != nil {
			return nil, fmt.Errorf("ikecrypto: %v: %w", e, err)
		}
		c.block = b
	}
	// AES, DES and 3DES refuse a key only for its length, checked above:
	// their schedule is built on use (Block), not here to be thrown away.
	return c, nil
}

// newBlock builds the block cipher e keyed with key.
func newBlock(e EncryptionAlgorithm, key []byte) (cipher.Block, error) {
	switch e {
	case EncryptionDES:
		return des.NewCipher(key)
	case Encryption3DES:
		return des.NewTripleDESCipher(key)
	case EncryptionAES:
		return aes.NewCipher(key)
	case EncryptionBlowfish:
		return blowfish.NewCipher(key)
	case EncryptionCAST:
		return cast5.NewCipher(key)
	}
	return nil, fmt.Errorf("no block cipher for %v", e)
}

func (c *cbcCipher) Algorithm() EncryptionAlgorithm { return c.alg }
func (c *cbcCipher) BlockSize() int                 { return c.bs }
func (c *cbcCipher) KeyLen() int                    { return c.klen }

func (c *cbcCipher) Block() cipher.Block {
	if c.block != nil {
		return c.block
	}
	// The key's length was checked by NewCipher: this cannot fail.
	b, err := newBlock(c.alg, c.key)
	if err != nil {
		panic("ikecrypto: " + err.Error())
	}
	return b
}

func (c *cbcCipher) check(dst, src, iv []byte) error {
	bs := c.bs
	if len(iv) != bs || len(src)%bs != 0 || len(dst) < len(src) {
		return errBlocks
	}
	return nil
}

func (c *cbcCipher) EncryptCBC(dst, src, iv []byte) error {
	if err := c.check(dst, src, iv); err != nil {
		return err
	}
	cipher.NewCBCEncrypter(c.Block(), iv).CryptBlocks(dst[:len(src)], src)
	return nil
}

func (c *cbcCipher) DecryptCBC(dst, src, iv []byte) error {
	if err := c.check(dst, src, iv); err != nil {
		return err
	}
	cipher.NewCBCDecrypter(c.Block(), iv).CryptBlocks(dst[:len(src)], src)
	return nil
}
