package isakmp

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Message is an ISAKMP message: the header, then either the decoded payload
// chain (E flag clear) or the opaque encrypted body (E flag set).
type Message struct {
	Header   Header
	Payloads []Payload
	// Encrypted is the body after the header when the E flag is set; Open
	// decrypts it and Seal sets it.
	Encrypted []byte
	// Raw is the whole datagram as received.
	Raw []byte
	// Body is the received payload chain: the datagram after the header, or
	// after Open the decrypted chain without its padding. Each payload's
	// Offset indexes into it.
	Body []byte
}

// After returns the received bytes of every payload after p (p must be one
// of m.Payloads, decoded by Decode or Open): the "rest" that Quick Mode's
// HASH(1) and HASH(2) and the informational HASH cover (RFC 2409, 5.5, 5.7).
func (m *Message) After(p Payload) ([]byte, error) {
	rs, ok := p.(rawSetter)
	if !ok {
		return nil, fmt.Errorf("isakmp: payload %v was not decoded", p.Type())
	}
	whole, off := rs.ReceivedPayload()
	end := off + len(whole)
	if whole == nil || end > len(m.Body) || !bytes.Equal(m.Body[off:end], whole) {
		return nil, fmt.Errorf("isakmp: payload %v is not from this message", p.Type())
	}
	return m.Body[end:], nil
}

// Decode decodes a whole datagram. With the E flag set only the header is
// decoded and the rest is kept in Encrypted; otherwise the payload chain must
// end at the end of the datagram, or at most 3 bytes of padding before it
// (maxClearPadding). The message keeps a private copy of b.
func Decode(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	return decode(h, bytes.Clone(b))
}

// DecodeOwned is Decode without the copy: the message and its payloads
// keep b itself, which the caller must not change afterwards. The
// daemon's packets carry a copy of their own (daemon/read.go, inspect),
// so the exchanges decode them in place: a copy and an allocation fewer
// per datagram (docs/performance.md).
func DecodeOwned(b []byte) (*Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	return decode(h, b)
}

// decode decodes the datagram b, whose header is h; the message keeps b.
func decode(h Header, b []byte) (*Message, error) {
	body := b[HeaderLen:]
	if h.Flags&FlagEncryption != 0 {
		return &Message{Header: h, Raw: b, Encrypted: body}, nil
	}
	// A chain of a few payloads (a Main Mode message without certificates
	// has two to five) is kept in the same object as the message: one
	// allocation fewer per datagram.
	var m *Message
	var ps []Payload
	switch n := countChain(h.NextPayload, body); {
	case n == 0:
		m = &Message{}
	case n <= len(messageWithPayloads{}.ps):
		mp := &messageWithPayloads{}
		m, ps = &mp.m, mp.ps[:0:n]
	default:
		m, ps = &Message{}, make([]Payload, 0, n)
	}
	m.Header, m.Raw = h, b
	ps, end, err := decodeChain(h.NextPayload, body, ps)
	if err != nil {
		return nil, err
	}
	if pad := len(body) - end; pad >= maxClearPadding || pad < 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last payload", ErrTrailingData, pad)
	}
	m.Payloads, m.Body = ps, body[:end]
	return m, nil
}

// messageWithPayloads is a decoded message and room for its payloads.
type messageWithPayloads struct {
	m  Message
	ps [4]Payload
}

// maxClearPadding bounds the bytes a clear message may carry after its
// last payload: libreswan pads every IKEv1 message to a multiple of 4
// bytes (its ikepad= option, on by default), outside every payload's
// length and so outside every hash; 1 to 3 such bytes are padding, more
// are an error.
const maxClearPadding = 4

// Encode encodes the message. Without the E flag the header's next payload
// and length are computed from Payloads; with it, Encrypted is written as
// the body, Payloads (if Open filled them) are not looked at, and
// Header.NextPayload (the type of the first encrypted payload) is kept. Use
// Seal to build an encrypted message.
func (m *Message) Encode() ([]byte, error) {
	h := m.Header
	if h.Flags&FlagEncryption != 0 {
		body := m.Encrypted
		if HeaderLen+len(body) > MaxMessageSize {
			return nil, ErrMessageTooLong
		}
		out := make([]byte, 0, HeaderLen+len(body))
		out = appendHeader(out, h, uint32(HeaderLen+len(body)))
		return append(out, body...), nil
	}
	// The chain is made after room for the header, which is written in
	// place once the length is known, as Seal does: one buffer.
	b := cryptobyte.NewBuilder(make([]byte, HeaderLen, HeaderLen+chainHint))
	appendChain(b, m.Payloads)
	out, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	if len(out) > MaxMessageSize {
		return nil, ErrMessageTooLong
	}
	h.NextPayload = PayloadNone
	if len(m.Payloads) > 0 {
		h.NextPayload = m.Payloads[0].Type()
	}
	appendHeader(out[:0], h, uint32(len(out)))
	return out, nil
}

// Find returns the first payload of type t, or nil.
func (m *Message) Find(t PayloadType) Payload {
	for _, p := range m.Payloads {
		if p.Type() == t {
			return p
		}
	}
	return nil
}

// PayloadOf returns m's first payload of Go type T (say *KE), or T's zero
// value: Find for a caller that wants the payload's own type.
func PayloadOf[T Payload](m *Message) T {
	for _, p := range m.Payloads {
		if v, ok := p.(T); ok {
			return v
		}
	}
	var zero T
	return zero
}

// FindAll returns the payloads of type t in order.
func (m *Message) FindAll(t PayloadType) []Payload {
	var ps []Payload
	for _, p := range m.Payloads {
		if p.Type() == t {
			ps = append(ps, p)
		}
	}
	return ps
}
