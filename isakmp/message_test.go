package isakmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestRandomMessagesRoundTrip encodes random messages, decodes them and
// requires the same bytes again, with every payload's Raw equal to its
// canonical body.
func TestRandomMessagesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		m := randMessage(r)
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("%d: encode: %v", i, err)
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatalf("%d: decode: %v\n%x", i, err, b)
		}
		if len(d.Payloads) != len(m.Payloads) {
			t.Fatalf("%d: %d payloads, want %d", i, len(d.Payloads), len(m.Payloads))
		}
		for j, p := range d.Payloads {
			if p.Type() != m.Payloads[j].Type() {
				t.Fatalf("%d: payload %d is %v, want %v", i, j, p.Type(), m.Payloads[j].Type())
			}
			want, _ := MarshalBody(m.Payloads[j])
			if !bytes.Equal(p.RawBody(), want) {
				t.Fatalf("%d: payload %d Raw differs", i, j)
			}
		}
		b2, err := d.Encode()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("%d: re-encode differs (%v)\n%x\n%x", i, err, b, b2)
		}
	}
}

// TestPrefixesFail cuts random messages at every length, fixes the header
// length to the cut, and requires the decoder to refuse each one; it also
// requires an unfixed prefix to fail the header's length check.
func TestPrefixesFail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		m := randMessage(r)
		if len(m.Payloads) == 0 {
			continue
		}
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			if _, err := Decode(b[:n]); err == nil {
				t.Fatalf("%d: prefix %d of %d decoded", i, n, len(b))
			}
			if n < HeaderLen {
				continue
			}
			p := bytes.Clone(b[:n])
			binary.BigEndian.PutUint32(p[24:28], uint32(n))
			if _, err := Decode(p); err == nil {
				t.Fatalf("%d: prefix %d of %d with fixed length decoded\n%x", i, n, len(b), b)
			}
		}
	}
}

// TestRandomBytesNoPanic feeds random datagrams with a plausible header (so
// the payload decoders are reached) to Decode and to DecodeChain for every
// payload type.
func TestRandomBytesNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 4000 {
		b := randBytes(r, 200)
		if len(b) >= HeaderLen {
			b[17] = Version
			b[19] &= byte(flagsDefined &^ FlagEncryption)
			binary.BigEndian.PutUint32(b[24:28], uint32(len(b)))
		}
		Decode(b)
		for t := range 256 {
			DecodeChain(PayloadType(t), b)
		}
	}
}

func TestHeaderChecks(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeMain}, Payloads: []Payload{&VendorID{Data: []byte{1, 2, 3}}}}
	good, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHeader(good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(b []byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:27] }, ErrShortHeader},
		{"major 2", func(b []byte) []byte { b[17] = 0x20; return b }, ErrInvalidMajorVersion},
		{"minor 1", func(b []byte) []byte { b[17] = 0x11; return b }, ErrInvalidMinorVersion},
		{"flag 0x08", func(b []byte) []byte { b[19] = 0x08; return b }, ErrInvalidFlags},
		{"length+1", func(b []byte) []byte { b[27]++; return b }, ErrLengthMismatch},
		{"4 trailing bytes", func(b []byte) []byte { b = append(b, 0, 0, 0, 0); b[27] += 4; return b }, ErrTrailingData},
		{"reserved", func(b []byte) []byte { b[29] = 1; return b }, ErrReservedNotZero},
		{"payload length 3", func(b []byte) []byte { b[31] = 3; return b }, ErrPayloadLength},
		{"top-level P", func(b []byte) []byte { b[16] = byte(PayloadProposal); return b }, ErrNextPayload},
	}
	for _, tc := range tests {
		_, err := Decode(tc.mod(bytes.Clone(good)))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestClearPadding: libreswan pads a clear message to a multiple of 4
// bytes after its last payload (as pluto does with an ID of 21 bytes in
// Aggressive Mode); 1 to 3 bytes are accepted as padding and are no part
// of the message's body, 4 are trailing data (TestHeaderChecks).
func TestClearPadding(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeAggressive}, Payloads: []Payload{&VendorID{Data: []byte{1, 2, 3}}}}
	good, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for pad := 1; pad <= 3; pad++ {
		b := append(bytes.Clone(good), make([]byte, pad)...)
		b[27] += byte(pad)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%d bytes of padding: %v", pad, err)
		}
		if len(got.Payloads) != 1 || len(got.Body) != len(good)-HeaderLen {
			t.Errorf("%d bytes of padding: %d payloads, body %d bytes, want 1 and %d", pad, len(got.Payloads), len(got.Body), len(good)-HeaderLen)
		}
	}
}

func TestTooManyPayloads(t *testing.T) {
	m := &Message{}
	for range MaxPayloads + 1 {
		m.Payloads = append(m.Payloads, &VendorID{})
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); !errors.Is(err, ErrTooManyPayloads) {
		t.Fatalf("got %v", err)
	}
	m.Payloads = m.Payloads[:MaxPayloads]
	b, _ = m.Encode()
	if _, err := Decode(b); err != nil {
		t.Fatalf("%d payloads: %v", MaxPayloads, err)
	}
}

func TestAfter(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeQuickMode, MessageID: 7}, Payloads: []Payload{
		&Hash{Data: bytes.Repeat([]byte{0xaa}, 20)}, randSA(rand.New(rand.NewPCG(1, 1))), &Nonce{Data: []byte("0123456789abcdef")},
	}}
	b, _ := m.Encode()
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := d.After(d.Payloads[0])
	if err != nil {
		t.Fatal(err)
	}
	want := b[HeaderLen+4+20:]
	if !bytes.Equal(rest, want) {
		t.Fatalf("After(HASH) = %x, want %x", rest, want)
	}
	if _, err := d.After(m.Payloads[0]); err == nil {
		t.Fatal("After accepted a payload that was not decoded")
	}
}
