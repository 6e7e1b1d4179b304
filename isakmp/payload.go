package isakmp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Payload is one ISAKMP payload of a message's chain. The payloads of this
// package are the only implementations: an unknown type decodes as *Unknown.
type Payload interface {
	// Type is the payload type written in the previous "next payload" field.
	Type() PayloadType
	// RawBody is the body as received (nil for a payload built locally).
	RawBody() []byte
	// marshalBody appends the body, without the generic payload header.
	marshalBody(b *cryptobyte.Builder)
	// unmarshalBody decodes a body whose length the chain walker checked.
	unmarshalBody(body cryptobyte.String) error
}

// Received keeps the exact bytes a payload was decoded from. It is embedded
// in every payload because HASH_I/HASH_R (RFC 2409, 5) cover the SA body as
// sent and Quick Mode hashes (RFC 2409, 5.5) cover payloads as sent.
type Received struct {
	// Raw is the payload body, after the generic payload header.
	Raw []byte
	// RawPayload is the whole payload, generic header included.
	RawPayload []byte
	// Offset is where RawPayload starts in the chain it was decoded from
	// (Message.Body for a top-level payload), so that a hash over "all
	// payloads after HASH" (RFC 2409, 5.5) can take the received bytes.
	Offset int
}

// RawBody returns the received body.
func (r *Received) RawBody() []byte { return r.Raw }

// ReceivedPayload returns the whole received payload and its offset.
func (r *Received) ReceivedPayload() ([]byte, int) { return r.RawPayload, r.Offset }

func (r *Received) setRaw(whole []byte, off int) {
	r.RawPayload = whole
	r.Raw = whole[GenericHeaderLen:]
	r.Offset = off
}

type rawSetter interface {
	setRaw([]byte, int)
	ReceivedPayload() ([]byte, int)
}

// MarshalBody returns the canonical encoding of p's body, the bytes a peer
// would hash (e.g. SAi_b when we are the initiator).
func MarshalBody(p Payload) ([]byte, error) {
	return marshalBodyInto(nil, p)
}

// marshalBodyInto is MarshalBody building in buf's backing array (which
// it grows as needed).
func marshalBodyInto(buf []byte, p Payload) ([]byte, error) {
	b := cryptobyte.NewBuilder(buf[:0])
	p.marshalBody(b)
	return b.Bytes()
}

// chainHint sizes the encoder's buffers, the chain and its bodies (made one
// after the other in a buffer of their own), so that a Main or Quick Mode
// message without certificates is built without a buffer growing and
// being copied again at each append (docs/performance.md: allocations per
// handshake).
const chainHint = 384

// newPayload returns an empty payload of type t for the decoder.
func newPayload(t PayloadType) Payload {
	switch t {
	case PayloadSA:
		return new(SA)
	case PayloadKE:
		return new(KE)
	case PayloadID:
		return new(ID)
	case PayloadCERT:
		return new(Cert)
	case PayloadCR:
		return new(CertRequest)
	case PayloadHASH:
		return new(Hash)
	case PayloadSIG:
		return new(Signature)
	case PayloadNONCE:
		return new(Nonce)
	case PayloadN:
		return new(Notification)
	case PayloadD:
		return new(Delete)
	case PayloadVID:
		return new(VendorID)
	case PayloadAttr:
		return new(Attr)
	case PayloadNATD, PayloadNATDDraft:
		return &NATD{Draft: t == PayloadNATDDraft}
	case PayloadNATOA, PayloadNATOADraft:
		return &NATOA{Draft: t == PayloadNATOADraft}
	case PayloadFragment:
		return new(Fragment)
	}
	return &Unknown{Kind: t}
}

// readGeneric reads one generic payload header and its body (RFC 2408, 3.2):
//
//	! Next Payload  !   RESERVED    !         Payload Length        !
//
// It returns the next payload type, the whole payload and the body.
func readGeneric(s *cryptobyte.String) (next PayloadType, whole []byte, body cryptobyte.String, err error) {
	if len(*s) < GenericHeaderLen {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes left for a generic header", ErrTruncatedChain, len(*s))
	}
	h := []byte(*s)
	if h[1] != 0 {
		return 0, nil, nil, fmt.Errorf("%w: generic payload header", ErrReservedNotZero)
	}
	n := int(binary.BigEndian.Uint16(h[2:4]))
	if n < GenericHeaderLen || n > len(h) {
		return 0, nil, nil, fmt.Errorf("%w: %d with %d bytes left", ErrPayloadLength, n, len(h))
	}
	s.Skip(n)
	return PayloadType(h[0]), h[:n:n], cryptobyte.String(h[GenericHeaderLen:n:n]), nil
}

// DecodeChain decodes the payload chain that starts with a payload of type
// first, as found after the ISAKMP header or in a decrypted body. It returns
// the payloads and the offset where the chain ended: the last payload says
// "next: NONE". Bytes after that offset are not looked at; Decode requires
// there be none, while Open tolerates them as the padding of RFC 2409,
// Appendix B. The payloads alias body.
func DecodeChain(first PayloadType, body []byte) ([]Payload, int, error) {
	var ps []Payload
	if n := countChain(first, body); n > 0 {
		ps = make([]Payload, 0, n)
	}
	return decodeChain(first, body, ps)
}

// decodeChain is DecodeChain appending to ps, which the caller sized
// (countChain).
func decodeChain(first PayloadType, body []byte, ps []Payload) ([]Payload, int, error) {
	s := cryptobyte.String(body)
	for t := first; t != PayloadNone; {
		if len(ps) == MaxPayloads {
			return nil, 0, ErrTooManyPayloads
		}
		if t == PayloadProposal || t == PayloadTransform {
			return nil, 0, fmt.Errorf("%w: %v outside an SA payload", ErrNextPayload, t)
		}
		off := len(body) - len(s)
		next, whole, pb, err := readGeneric(&s)
		if err != nil {
			return nil, 0, fmt.Errorf("payload %d (%v): %w", len(ps)+1, t, err)
		}
		p := newPayload(t)
		if err := p.unmarshalBody(pb); err != nil {
			return nil, 0, fmt.Errorf("payload %d (%v): %w", len(ps)+1, t, err)
		}
		p.(rawSetter).setRaw(whole, off)
		ps = append(ps, p)
		t = next
	}
	return ps, len(body) - len(s), nil
}

// countChain returns how many payloads the chain that starts with a
// payload of type first holds, reading only their generic headers (RFC
// 2408, 3.2), so that the decoder sizes its slice once rather than growing
// it at each payload. It stops at a header that does not fit (the decoder
// reports it) and at MaxPayloads, so a peer cannot make it reserve more.
func countChain(first PayloadType, body []byte) int {
	n := 0
	for t := first; t != PayloadNone && n < MaxPayloads; n++ {
		if len(body) < GenericHeaderLen {
			return n
		}
		l := int(binary.BigEndian.Uint16(body[2:4]))
		if l < GenericHeaderLen || l > len(body) {
			return n
		}
		t, body = PayloadType(body[0]), body[l:]
	}
	return n
}

// EncodeChain encodes payloads as a chain: each generic header names the type
// of the payload after it, the last names NONE. The first payload's type
// goes into the ISAKMP header (or the previous chain's last payload).
func EncodeChain(ps []Payload) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, chainHint))
	appendChain(b, ps)
	return b.Bytes()
}

func appendChain(b *cryptobyte.Builder, ps []Payload) {
	for i, p := range ps {
		if p == nil {
			b.SetError(fmt.Errorf("isakmp: nil payload at %d", i))
			return
		}
		next := PayloadNone
		if i+1 < len(ps) && ps[i+1] != nil {
			next = ps[i+1].Type()
		}
		if t := p.Type(); t == PayloadProposal || t == PayloadTransform || t == PayloadNone {
			b.SetError(fmt.Errorf("%w: %v cannot be a top-level payload", ErrNextPayload, t))
			return
		}
		if !appendGeneric(b, next, p) {
			return
		}
	}
}

// appendGeneric appends a generic payload header (RFC 2408, 3.2) and p's
// body after it, made in b itself; the header's length is set once the
// body is there. Bytes returns the builder's own buffer
// (golang.org/x/crypto/cryptobyte, Builder.Bytes), so its two bytes are
// set in place: a builder and a buffer of its own for each body, copied
// into b afterwards, were a tenth of a handshake's allocations. It
// reports whether b has no error.
func appendGeneric(b *cryptobyte.Builder, next PayloadType, p interface{ marshalBody(*cryptobyte.Builder) }) bool {
	before, err := b.Bytes()
	if err != nil {
		return false
	}
	start := len(before)
	b.AddUint8(uint8(next))
	b.AddUint8(0)
	b.AddUint16(0) // the length, set below
	p.marshalBody(b)
	all, err := b.Bytes()
	if err != nil {
		return false
	}
	n := len(all) - start
	if n > 0xffff {
		b.SetError(ErrPayloadTooLong)
		return false
	}
	binary.BigEndian.PutUint16(all[start+2:start+4], uint16(n))
	return true
}
