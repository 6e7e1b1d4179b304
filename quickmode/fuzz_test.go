package quickmode

import (
	"sync"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// FuzzAttrs: the RESPONDER-LIFETIME notify data and the transform
// attributes decode without panicking and within their bounds, and what
// decodes re-encodes to the same bytes.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0x80, 0x02, 0x0e, 0x10})
	f.Add([]byte{0x80, 0x01, 0x00, 0x02, 0x00, 0x02, 0x00, 0x04, 0x00, 0x01, 0x86, 0xa0})
	f.Add([]byte{0x00, 0x02, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := decodeAttrs(b)
		if err != nil {
			return
		}
		if len(as) > maxNotifyAttrs {
			t.Fatalf("%d attributes", len(as))
		}
		if got := encodeAttrs(as); string(got) != string(b) {
			t.Fatalf("re-encoded %x, was %x", got, b)
		}
		a, err := parseAttrs(transformWith(as))
		if err == nil && (a.LifeSeconds > maxLife || a.LifeKBytes > maxLife) {
			t.Fatalf("lifetime beyond the bound: %+v", a)
		}
	})
}

// FuzzResponder: whatever arrives as a Quick Mode first message on an
// established ISAKMP SA (here: random bytes after a valid header, and
// random plaintext sealed under the SA's keys with a valid HASH(1), which
// is what a peer holding the keys can send), NewResponder neither panics
// nor keeps state for what it refuses.
func FuzzResponder(f *testing.F) {
	f.Add([]byte{1, 0, 0, 8, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := fuzzPeer(t)
		raw := append(headerBytes(b), body...)
		if x, st := NewResponder(b.env(), b.cfg, b.p1, raw); x != nil && st.Reject != nil {
			t.Fatal("exchange with a rejection")
		}
		sealed := sealFuzz(b, body)
		if sealed == nil {
			return
		}
		x, st := NewResponder(b.env(), b.cfg, b.p1, sealed)
		if x != nil && (st.Reject != nil || x.Failed()) {
			t.Fatal("exchange kept after a refusal")
		}
	})
}

func transformWith(as isakmp.Attributes) *isakmp.Transform {
	return &isakmp.Transform{Number: 1, ID: 12, Attributes: as}
}

var (
	fuzzOnce sync.Once
	fuzzB    *qmPeer
)

// fuzzPeer is a responder with an established ISAKMP SA, negotiated once.
func fuzzPeer(t *testing.T) *qmPeer {
	fuzzOnce.Do(func() {
		_, fuzzB, _ = tunnelPair(t, nil)
	})
	if fuzzB == nil {
		t.Skip("no ISAKMP SA")
	}
	return fuzzB
}

const fuzzMID = 0x01020304

func headerBytes(b *qmPeer) []byte {
	h := isakmp.Header{InitiatorCookie: b.p1.ICookie, ResponderCookie: b.p1.RCookie, Exchange: isakmp.ExchangeQuickMode,
		MessageID: fuzzMID, NextPayload: isakmp.PayloadHASH, Flags: isakmp.FlagEncryption}
	m := &isakmp.Message{Header: h, Encrypted: make([]byte, 16)}
	out, _ := m.Encode()
	return out[:isakmp.HeaderLen]
}

// sealFuzz encrypts HDR*, HASH(1), then body[1:] as the payloads after the
// HASH (body[0] their first type), with a valid HASH(1).
func sealFuzz(b *qmPeer, body []byte) []byte {
	if len(body) == 0 || len(body) > 4000 {
		return nil
	}
	rest := body[1:]
	hash := ikecrypto.QuickModeHash1(b.p1.PRF, b.p1.SKEYIDa(), fuzzMID, rest)
	plain := []byte{body[0], 0, 0, byte(4 + len(hash))}
	plain = append(append(plain, hash...), rest...)
	bs := b.p1.Cipher().BlockSize()
	ct := make([]byte, len(plain)+bs-len(plain)%bs)
	copy(ct, plain)
	iv := ikecrypto.Phase2IV(b.p1.PRF, b.p1.LastBlock(), fuzzMID, bs)
	if err := b.p1.Cipher().EncryptCBC(ct, ct, iv); err != nil {
		return nil
	}
	h := isakmp.Header{InitiatorCookie: b.p1.ICookie, ResponderCookie: b.p1.RCookie, Exchange: isakmp.ExchangeQuickMode,
		MessageID: fuzzMID, NextPayload: isakmp.PayloadHASH, Flags: isakmp.FlagEncryption}
	out, err := (&isakmp.Message{Header: h, Encrypted: ct}).Encode()
	if err != nil {
		return nil
	}
	return out
}
