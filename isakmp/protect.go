package isakmp

import (
	"bytes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Message protection, RFC 2409 Appendix B and 5.3: the payloads after the
// header are encrypted in CBC mode with the negotiated cipher; the IV of the
// first phase 1 message comes from the DH values, and every later IV is the
// last ciphertext block of the previous message (or, for a new phase 2 or
// informational exchange, H(last phase 1 block | M-ID), computed by ikecrypto).
//
// Padding: RFC 2409 Appendix B says the plaintext is padded with zeros to a
// multiple of the block size, with no pad length byte. strongSwan 5.9
// (encrypted_payload.c, encrypt_v1) pads with bs - len%bs zero bytes, which
// is always at least one byte and a whole block when the chain is already
// aligned. We pad exactly the same way so that our messages have the sizes
// strongSwan's have. On receipt we cannot strip padding by content (zeros, a
// pad length byte or random bytes are all seen in the wild), so Open walks
// the payload chain and ignores whatever follows its last payload, as
// strongSwan's parser does.

// padLen is strongSwan's IKEv1 padding length: 1..bs bytes.
func padLen(n, bs int) int { return bs - n%bs }

// Encrypt pads plain with zeros and CBC-encrypts it under block and iv. It
// returns the ciphertext and the next IV: the last ciphertext block.
func Encrypt(block cipher.Block, iv, plain []byte) (ciphertext, nextIV []byte, err error) {
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, nil, fmt.Errorf("%w: %d, block %d", ErrIVSize, len(iv), bs)
	}
	ct := make([]byte, len(plain)+padLen(len(plain), bs))
	copy(ct, plain)
	encryptCBC(block, iv, ct)
	return ct, bytes.Clone(ct[len(ct)-bs:]), nil
}

// Decrypt CBC-decrypts ciphertext under block and iv. It returns the plaintext
// (payload chain followed by padding) and the next IV: the last ciphertext
// block. RFC 2409, 5.3 wants the IV unchanged when a message fails to
// verify; the caller decides whether to adopt nextIV.
func Decrypt(block cipher.Block, iv, ciphertext []byte) (plain, nextIV []byte, err error) {
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, nil, fmt.Errorf("%w: %d, block %d", ErrIVSize, len(iv), bs)
	}
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes, block %d", ErrCiphertextLength, len(ciphertext), bs)
	}
	next := bytes.Clone(ciphertext[len(ciphertext)-bs:])
	pt := make([]byte, len(ciphertext))
	decryptCBC(block, iv, pt, ciphertext)
	return pt, next, nil
}

// encryptCBC encrypts b in place in CBC mode (NIST SP 800-38A, 6.2), a
// whole number of blocks. It is written out over block rather than taken
// from cipher.NewCBCEncrypter, whose state (a copy of the AES key
// schedule, some 500 bytes) was allocated for every message: an IKE
// message is a few dozen blocks at most, where the pipelined assembly of
// the standard library's CBC gains nothing to speak of.
func encryptCBC(block cipher.Block, iv, b []byte) {
	bs := block.BlockSize()
	prev := iv
	for i := 0; i < len(b); i += bs {
		c := b[i : i+bs]
		subtle.XORBytes(c, c, prev)
		block.Encrypt(c, c)
		prev = c
	}
}

// decryptCBC decrypts src into dst (as long, not overlapping) in CBC mode,
// a whole number of blocks; see encryptCBC.
func decryptCBC(block cipher.Block, iv, dst, src []byte) {
	bs := block.BlockSize()
	prev := iv
	for i := 0; i < len(src); i += bs {
		block.Decrypt(dst[i:i+bs], src[i:i+bs])
		subtle.XORBytes(dst[i:i+bs], dst[i:i+bs], prev)
		prev = src[i : i+bs]
	}
}

// Seal encodes ps as the encrypted body of a message with header h: it sets
// the E flag, the header's next payload to ps[0]'s type, encrypts, and
// returns the datagram and the next IV. The datagram is built in one
// buffer: the chain after room for the header, padded and encrypted in
// place, the header written last (the same bytes as Encrypt and Encode,
// without their copies).
func Seal(h Header, ps []Payload, block cipher.Block, iv []byte) (datagram, nextIV []byte, err error) {
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, nil, fmt.Errorf("%w: %d, block %d", ErrIVSize, len(iv), bs)
	}
	b := cryptobyte.NewBuilder(make([]byte, HeaderLen, HeaderLen+chainHint+bs))
	appendChain(b, ps)
	out, err := b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	for range padLen(len(out)-HeaderLen, bs) {
		out = append(out, 0)
	}
	if len(out) > MaxMessageSize {
		return nil, nil, ErrMessageTooLong
	}
	encryptCBC(block, iv, out[HeaderLen:])
	h.Flags |= FlagEncryption
	h.NextPayload = PayloadNone
	if len(ps) > 0 {
		h.NextPayload = ps[0].Type()
	}
	appendHeader(out[:0], h, uint32(len(out)))
	return out, bytes.Clone(out[len(out)-bs:]), nil
}

// Open decrypts an encrypted message's body and decodes its payload chain
// into m.Payloads. It returns the next IV and the plaintext; the chain's
// received bytes (Raw, RawPayload) alias that plaintext. Bytes after the last
// payload are padding and ignored (see the comment on padding above).
func (m *Message) Open(block cipher.Block, iv []byte) (plain, nextIV []byte, err error) {
	if m.Header.Flags&FlagEncryption == 0 {
		return nil, nil, fmt.Errorf("isakmp: Open on a message without the E flag")
	}
	plain, next, err := Decrypt(block, iv, m.Encrypted)
	if err != nil {
		return nil, nil, err
	}
	ps, end, err := DecodeChain(m.Header.NextPayload, plain)
	if err != nil {
		return nil, nil, err
	}
	m.Payloads, m.Body = ps, plain[:end]
	return plain, next, nil
}
