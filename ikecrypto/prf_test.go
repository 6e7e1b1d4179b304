package ikecrypto

import (
	"bytes"
	"crypto/hmac"
	"testing"
)

// TestPRFMatchesHMAC checks the pooled HMAC of hmacPRF.Compute against
// crypto/hmac for every hash, keys shorter than, as long as and longer than
// the hash's block (a long key is hashed first, RFC 2104, 2), data in
// several pieces or none, and calls interleaved with other keys.
func TestPRFMatchesHMAC(t *testing.T) {
	for _, alg := range []HashAlgorithm{HashMD5, HashSHA1, HashSHA2_256, HashSHA2_384, HashSHA2_512} {
		prf, err := NewPRF(alg)
		if err != nil {
			t.Fatal(err)
		}
		newHash := alg.newFunc()
		bs := newHash().BlockSize()
		for _, klen := range []int{0, 1, 20, bs - 1, bs, bs + 1, 3 * bs} {
			key := bytes.Repeat([]byte{byte(klen + 1)}, klen)
			for _, data := range [][][]byte{nil, {[]byte("one")}, {[]byte("a"), nil, bytes.Repeat([]byte{7}, 300)}} {
				m := hmac.New(newHash, key)
				for _, d := range data {
					m.Write(d)
				}
				want := m.Sum(nil)
				got := prf.Compute(key, data...)
				// Another key in between: a pooled state keeps nothing.
				prf.Compute([]byte("other key"), []byte("x"))
				if again := prf.Compute(key, data...); !bytes.Equal(got, want) || !bytes.Equal(again, want) {
					t.Fatalf("%v key %d bytes: %x, then %x, want %x", alg, klen, got, again, want)
				}
			}
		}
		h := newHash()
		h.Write([]byte("ab"))
		if got := prf.Hash([]byte("a"), []byte("b")); !bytes.Equal(got, h.Sum(nil)) {
			t.Fatalf("%v Hash: %x", alg, got)
		}
	}
}

// BenchmarkPRF is one PRF call of a Main Mode HASH: HMAC-SHA2-256 with a
// 32-byte key over some 200 bytes.
func BenchmarkPRF(b *testing.B) {
	prf, err := NewPRF(HashSHA2_256)
	if err != nil {
		b.Fatal(err)
	}
	key := bytes.Repeat([]byte{1}, 32)
	data := bytes.Repeat([]byte{2}, 200)
	b.ReportAllocs()
	for b.Loop() {
		prf.Compute(key, data[:65], data[65:130], data[130:])
	}
}
