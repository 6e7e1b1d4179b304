package quickmode

import (
	"encoding/binary"
	"errors"

	"github.com/iked/iked/isakmp"
)

// The RESPONDER-LIFETIME notify carries data attributes as its
// notification data (RFC 2407, 4.6.3.1); isakmp encodes attributes only
// inside transforms, so this is the same codec for a bare attribute list
// (RFC 2408, 3.3):
//
//	!A!       Attribute Type        !    AF=0  Attribute Length     !
//	!F!                             !    AF=1  Attribute Value      !
//	.                   AF=0  Attribute Value                       .

var errAttrData = errors.New("quickmode: malformed attribute list")

// maxNotifyAttrs bounds the attributes read from one notify.
const maxNotifyAttrs = 16

func encodeAttrs(as isakmp.Attributes) []byte {
	var b []byte
	for _, a := range as {
		if a.Basic {
			b = binary.BigEndian.AppendUint16(b, a.Type|0x8000)
			b = binary.BigEndian.AppendUint16(b, a.Value)
			continue
		}
		b = binary.BigEndian.AppendUint16(b, a.Type&0x7fff)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
		b = append(b, a.Data...)
	}
	return b
}

func decodeAttrs(b []byte) (isakmp.Attributes, error) {
	var as isakmp.Attributes
	for len(b) > 0 {
		if len(as) == maxNotifyAttrs || len(b) < 4 {
			return nil, errAttrData
		}
		t := binary.BigEndian.Uint16(b)
		v := binary.BigEndian.Uint16(b[2:])
		b = b[4:]
		if t&0x8000 != 0 {
			as = append(as, isakmp.Attribute{Type: t & 0x7fff, Basic: true, Value: v})
			continue
		}
		if int(v) > len(b) {
			return nil, errAttrData
		}
		as = append(as, isakmp.Attribute{Type: t, Data: b[:v:v]})
		b = b[v:]
	}
	return as, nil
}
