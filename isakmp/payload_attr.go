package isakmp

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Attr is the Attribute payload of the ISAKMP Configuration Method
// (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2), which carries XAUTH and Mode
// Config in Transaction exchanges:
//
//	!   Type        !   RESERVED    !           Identifier          !
//	~                           Attributes                          ~
//
// A reply or an acknowledgement repeats the Identifier of the request or
// set it answers. The attributes are data attributes (RFC 2408, 3.3)
// whose types are CfgAttr values; an attribute asked for in a REQUEST is a
// TLV of length zero.
type Attr struct {
	Received
	CfgType    CfgType
	Identifier uint16
	Attributes Attributes
}

// Type returns PayloadAttr.
func (p *Attr) Type() PayloadType { return PayloadAttr }

func (p *Attr) marshalBody(b *cryptobyte.Builder) {
	b.AddUint8(uint8(p.CfgType))
	b.AddUint8(0)
	b.AddUint16(p.Identifier)
	if len(p.Attributes) > MaxAttributes {
		b.SetError(ErrTooManyAttributes)
		return
	}
	p.Attributes.marshal(b)
}

func (p *Attr) unmarshalBody(s cryptobyte.String) error {
	var t, r uint8
	if !s.ReadUint8(&t) || !s.ReadUint8(&r) || !s.ReadUint16(&p.Identifier) {
		return ErrShortPayload
	}
	if r != 0 {
		return fmt.Errorf("%w: attribute payload", ErrReservedNotZero)
	}
	p.CfgType = CfgType(t)
	as, err := parseAttributes(s)
	if err != nil {
		return err
	}
	p.Attributes = as
	return nil
}
