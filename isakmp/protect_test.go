package isakmp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestEncryptOpenSSL checks Encrypt against ciphertexts made by
// `openssl enc -nopad` on the zero-padded plaintext, for AES-128 (37 bytes:
// 11 zero bytes of padding) and 3DES (24 bytes, already aligned: a whole
// zero block is added, as strongSwan's encrypt_v1 does).
func TestEncryptOpenSSL(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	aesBlock, _ := aes.NewCipher(unhex("000102030405060708090a0b0c0d0e0f"))
	tdes, _ := des.NewTripleDESCipher(unhex("0123456789abcdeffedcba987654321089abcdef01234567"))
	tests := []struct {
		name  string
		block cipher.Block
		iv    string
		plain []byte
		want  string
	}{
		// openssl enc -aes-128-cbc -nopad -K 0001..0f -iv f0f1..ff
		{"aes128", aesBlock, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", seq(37),
			"753d5eacf88ed4c2c30496112e5f2221380449120c43e61d91c66cae5065cdad23dab4d04a347b41a19bc70db9e52c3e"},
		// openssl enc -des-ede3-cbc -nopad -K 0123..4567 -iv 0001020304050607
		{"3des", tdes, "0001020304050607", seq(24),
			"3fd539e3abeb8b5b8be3ee0f4b2e181bd1f69e3425e010c9c508d7a75b8a87c9"},
	}
	for _, tc := range tests {
		block := tc.block
		ct, next, err := Encrypt(block, unhex(tc.iv), tc.plain)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if hex.EncodeToString(ct) != tc.want {
			t.Errorf("%s: ciphertext %x, want %s", tc.name, ct, tc.want)
		}
		if !bytes.Equal(next, ct[len(ct)-block.BlockSize():]) {
			t.Errorf("%s: next IV is not the last block", tc.name)
		}
		pt, next2, err := Decrypt(block, unhex(tc.iv), ct)
		if err != nil || !bytes.Equal(pt[:len(tc.plain)], tc.plain) || !bytes.Equal(next2, next) {
			t.Errorf("%s: decrypt: %v", tc.name, err)
		}
		for _, c := range pt[len(tc.plain):] {
			if c != 0 {
				t.Errorf("%s: padding not zero: %x", tc.name, pt[len(tc.plain):])
			}
		}
	}
}

func TestSealOpen(t *testing.T) {
	block, _ := aes.NewCipher(make([]byte, 16))
	iv := bytes.Repeat([]byte{7}, 16)
	h := Header{Exchange: ExchangeQuickMode, MessageID: 0x01020304}
	ps := []Payload{&Hash{Data: make([]byte, 20)}, &Nonce{Data: []byte("nonce-nonce-nonce")}, IDFromFQDN("gw.example.org")}
	dg, next, err := Seal(h, ps, block, iv)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(dg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Flags&FlagEncryption == 0 || m.Header.NextPayload != PayloadHASH || len(m.Payloads) != 0 {
		t.Fatalf("header %+v", m.Header)
	}
	again, _ := m.Encode()
	if !bytes.Equal(again, dg) {
		t.Fatal("encrypted message does not re-encode")
	}
	_, next2, err := m.Open(block, iv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next, next2) || len(m.Payloads) != 3 {
		t.Fatalf("open: %d payloads", len(m.Payloads))
	}
	chain, _ := EncodeChain(ps)
	if !bytes.Equal(m.Body, chain) {
		t.Fatalf("Body %x, want %x", m.Body, chain)
	}
	if id := m.Payloads[2].(*ID); string(id.Data) != "gw.example.org" {
		t.Fatalf("ID %v", id)
	}
	// Wrong IV: the first block decrypts to garbage and the chain is refused
	// (or, rarely, reads as something else); it must not panic.
	m2, _ := Decode(dg)
	m2.Open(block, make([]byte, 16))
	// Bad lengths.
	if _, _, err := Decrypt(block, iv, dg[:HeaderLen+5]); !errors.Is(err, ErrCiphertextLength) {
		t.Fatalf("got %v", err)
	}
	if _, _, err := Encrypt(block, iv[:8], nil); !errors.Is(err, ErrIVSize) {
		t.Fatalf("got %v", err)
	}
}

// TestOpenToleratesPadding: bytes after the chain's last payload, whatever
// they are (zeros, a pad-length byte, random), are padding.
func TestOpenToleratesPadding(t *testing.T) {
	block, _ := aes.NewCipher(make([]byte, 16))
	iv := make([]byte, 16)
	chain, _ := EncodeChain([]Payload{&Hash{Data: make([]byte, 20)}})
	for _, pad := range [][]byte{{}, {0, 0, 0, 7}, bytes.Repeat([]byte{0xff}, 40)} {
		plain := append(bytes.Clone(chain), pad...)
		ct, _, _ := Encrypt(block, iv, plain)
		m := &Message{Header: Header{Flags: FlagEncryption, NextPayload: PayloadHASH}, Encrypted: ct}
		if _, _, err := m.Open(block, iv); err != nil || len(m.Payloads) != 1 || !bytes.Equal(m.Body, chain) {
			t.Fatalf("pad %x: %v", pad, err)
		}
	}
}
