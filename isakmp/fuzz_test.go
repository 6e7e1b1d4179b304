package isakmp

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// Native fuzz targets. Their common property: the decoder never panics, and
// anything it accepts re-encodes to exactly the input, because the decoder
// accepts only canonical encodings (reserved fields zero, lengths exact,
// next-payload values as RFC 2408 requires). Seeds live in
// testdata/fuzz/<target>/ (written by TestFuzzSeeds -update from the real
// captures and the random generators).

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		// A clear message may end in 1 to 3 bytes of padding (see
		// maxClearPadding in message.go); they are not kept, so the
		// re-encoding is the input without them, its length field
		// shortened to match.
		pad := len(b) - len(out)
		if pad < 0 || pad >= maxClearPadding {
			t.Fatalf("re-encoding is %d bytes, input %d\n in %x\nout %x", len(out), len(b), b, out)
		}
		want := bytes.Clone(b[:len(out)])
		binary.BigEndian.PutUint32(want[24:28], uint32(len(out)))
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoding differs\n in %x\nout %x", b, out)
		}
	})
}

// FuzzDecodeChain is the path of a decrypted body: any first payload type,
// trailing bytes allowed.
func FuzzDecodeChain(f *testing.F) {
	f.Fuzz(func(t *testing.T, first uint8, b []byte) {
		ps, end, err := DecodeChain(PayloadType(first), b)
		if err != nil {
			return
		}
		if end > len(b) {
			t.Fatalf("end %d past %d", end, len(b))
		}
		if len(ps) == 0 {
			if first != 0 || end != 0 {
				t.Fatalf("empty chain from type %d ends at %d", first, end)
			}
			return
		}
		out, err := EncodeChain(ps)
		if err != nil || !bytes.Equal(out, b[:end]) {
			t.Fatalf("chain re-encodes differently (%v)", err)
		}
	})
}

// fuzzBody checks one payload decoder.
func fuzzBody(t *testing.T, p Payload, b []byte) {
	if err := p.unmarshalBody(cryptobyte.String(b)); err != nil {
		return
	}
	out, err := MarshalBody(p)
	if err != nil {
		t.Fatalf("%v decoded but does not encode: %v", p.Type(), err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("%v re-encodes differently\n in %x\nout %x", p.Type(), b, out)
	}
}

func FuzzSA(f *testing.F) { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(SA), b) }) }
func FuzzProposal(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Proposal), b) })
}
func FuzzTransform(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Transform), b) })
}
func FuzzID(f *testing.F)   { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(ID), b) }) }
func FuzzCert(f *testing.F) { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Cert), b) }) }
func FuzzCertRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(CertRequest), b) })
}
func FuzzNotification(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Notification), b) })
}
func FuzzDelete(f *testing.F) { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Delete), b) }) }
func FuzzNATOA(f *testing.F)  { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(NATOA), b) }) }
func FuzzAttr(f *testing.F)   { f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Attr), b) }) }
func FuzzFragment(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, new(Fragment), b) })
}

// FuzzData covers the opaque-data payloads (KE, HASH, SIG, NONCE, VID,
// NAT-D, unknown), whose decoders share one shape: the first byte picks the
// kind.
func FuzzData(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		ps := []Payload{new(KE), new(Hash), new(Signature), new(Nonce), new(VendorID), new(NATD), &NATD{Draft: true}, &Unknown{Kind: 200}}
		fuzzBody(t, ps[int(kind)%len(ps)], b)
	})
}

// FuzzOpen decrypts arbitrary bodies under a fixed key: whatever the
// "plaintext" is, Open must fail cleanly or decode a chain.
func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, first uint8, ct []byte) {
		block := fuzzBlock
		m := &Message{Header: Header{Flags: FlagEncryption, NextPayload: PayloadType(first)}, Encrypted: ct}
		m.Open(block, make([]byte, block.BlockSize()))
	})
}
