package isakmp

import (
	"errors"
	"fmt"
	"sort"
)

// IKEv1 fragmentation (Cisco's format, implemented by strongSwan in
// message.c): a message too large for one datagram - typically Main Mode 5/6
// carrying certificates - is cut into pieces, each sent as its own ISAKMP
// message with the E flag clear and a single FRAG payload. The pieces
// concatenated are the original datagram, header included.

// MaxFragments caps the fragments of one message; 64 of strongSwan's
// 1280-byte fragments exceed the largest UDP datagram.
const MaxFragments = 64

// Errors of reassembly.
var (
	// ErrFragments: the fragments do not form one complete message.
	ErrFragments = errors.New("isakmp: fragments do not form a complete message")
)

// Reassemble joins the fragments of one message, given in any order: they
// must share one fragment ID and be numbered 1..n, each once, with only
// fragment n flagged last. It returns the original datagram, which the
// caller decodes like a received one.
func Reassemble(frags []*Fragment) ([]byte, error) {
	if len(frags) == 0 || len(frags) > MaxFragments {
		return nil, fmt.Errorf("%w: %d fragments", ErrFragments, len(frags))
	}
	fs := append([]*Fragment(nil), frags...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Number < fs[j].Number })
	size := 0
	for i, f := range fs {
		switch {
		case f.ID != fs[0].ID:
			return nil, fmt.Errorf("%w: fragment IDs %d and %d", ErrFragments, fs[0].ID, f.ID)
		case int(f.Number) != i+1:
			return nil, fmt.Errorf("%w: fragment %d missing or repeated", ErrFragments, i+1)
		case f.Last() != (i == len(fs)-1):
			return nil, fmt.Errorf("%w: last flag on fragment %d of %d", ErrFragments, f.Number, len(fs))
		}
		size += len(f.Data)
	}
	if size > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageTooLong, size)
	}
	out := make([]byte, 0, size)
	for _, f := range fs {
		out = append(out, f.Data...)
	}
	return out, nil
}

// FragmentMessage cuts datagram into fragment messages of at most maxLen
// bytes each (ISAKMP header and FRAG payload included), numbered from 1 with
// fragment ID id, as strongSwan does. Each fragment message carries header h
// with the E flag cleared and next payload FRAG; strongSwan uses the
// original message's cookies, exchange type and message ID.
func FragmentMessage(h Header, datagram []byte, id uint16, maxLen int) ([][]byte, error) {
	const overhead = HeaderLen + GenericHeaderLen + 4
	room := maxLen - overhead
	if room <= 0 || maxLen > MaxMessageSize {
		return nil, fmt.Errorf("isakmp: fragment size %d out of range", maxLen)
	}
	n := (len(datagram) + room - 1) / room
	if n == 0 || n > MaxFragments {
		return nil, fmt.Errorf("%w: %d bytes in %d-byte fragments", ErrFragments, len(datagram), maxLen)
	}
	h.Flags &^= FlagEncryption
	out := make([][]byte, 0, n)
	for i := range n {
		end := min((i+1)*room, len(datagram))
		f := &Fragment{ID: id, Number: uint8(i + 1), Data: datagram[i*room : end]}
		if i == n-1 {
			f.Flags = FragmentLast
		}
		b, err := (&Message{Header: h, Payloads: []Payload{f}}).Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
