package isakmp

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// FragmentLast is the flag of the last fragment of an IKEv1 message.
const FragmentLast = 0x01

// Fragment is the IKEv1 fragmentation payload (type 132) that Cisco
// introduced and strongSwan implements (fragment_payload.c): a message too
// large for one datagram travels as fragments sharing an ID and reassembled
// by number.
//
//	!          Fragment ID          !  Fragment #   !     Flags     !
//	~                         Fragment Data                         ~
type Fragment struct {
	Received
	ID     uint16
	Number uint8
	Flags  uint8
	Data   []byte
}

// Type returns PayloadFragment.
func (*Fragment) Type() PayloadType { return PayloadFragment }

// Last reports whether this is the last fragment.
func (p *Fragment) Last() bool { return p.Flags&FragmentLast != 0 }

func (p *Fragment) marshalBody(b *cryptobyte.Builder) {
	b.AddUint16(p.ID)
	b.AddUint8(p.Number)
	b.AddUint8(p.Flags)
	b.AddBytes(p.Data)
}

func (p *Fragment) unmarshalBody(s cryptobyte.String) error {
	if !s.ReadUint16(&p.ID) || !s.ReadUint8(&p.Number) || !s.ReadUint8(&p.Flags) {
		return ErrShortPayload
	}
	if p.Flags&^FragmentLast != 0 {
		return fmt.Errorf("%w: fragment flags %#02x", ErrReservedNotZero, p.Flags)
	}
	p.Data = s
	return nil
}
