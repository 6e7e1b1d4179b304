package isakmp

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Attribute is an ISAKMP data attribute (RFC 2408, 3.3). It records its form
// (basic TV or variable TLV) so that a decoded attribute re-encodes exactly.
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	!A!       Attribute Type        !    AF=0  Attribute Length     !
//	!F!                             !    AF=1  Attribute Value      !
//	.                   AF=0  Attribute Value                       .
type Attribute struct {
	// Type is the 15-bit attribute type (Phase1Attr or IPsecAttr values).
	Type uint16
	// Basic selects the TV form (AF=1): the value is Value.
	Basic bool
	// Value is the value of a basic attribute.
	Value uint16
	// Data is the value of a variable (TLV, AF=0) attribute.
	Data []byte
}

const attrFormatBit = 0x8000

// BasicAttr returns a TV attribute.
func BasicAttr[T ~uint16, V ~uint16](t T, v V) Attribute {
	return Attribute{Type: uint16(t), Basic: true, Value: uint16(v)}
}

// VarAttr returns a TLV attribute holding data.
func VarAttr[T ~uint16](t T, data []byte) Attribute {
	return Attribute{Type: uint16(t), Data: data}
}

// LifeAttrs returns a lifetime as attributes: Life Type seconds and its
// Life Duration when seconds is not 0, then Life Type kilobytes and its
// Life Duration when kbytes is not 0 (RFC 2409, Appendix A; RFC 2407,
// 4.5). typ and dur are the phase 1 or the IPsec attribute types.
func LifeAttrs[T ~uint16](typ, dur T, seconds, kbytes uint64) Attributes {
	return AppendLifeAttrs(nil, typ, dur, seconds, kbytes)
}

// AppendLifeAttrs is LifeAttrs appending to as, for an encoder that sizes
// a transform's attributes once.
func AppendLifeAttrs[T ~uint16](as Attributes, typ, dur T, seconds, kbytes uint64) Attributes {
	if seconds != 0 {
		as = append(as, BasicAttr(typ, LifeSeconds), UintAttr(dur, seconds))
	}
	if kbytes != 0 {
		as = append(as, BasicAttr(typ, LifeKilobytes), UintAttr(dur, kbytes))
	}
	return as
}

// UintAttr returns the shortest encoding of an integer attribute such as Life
// Duration, as strongSwan chooses it: TV when the value fits 16 bits, else a
// TLV of 4 bytes, else of 8.
func UintAttr[T ~uint16](t T, v uint64) Attribute {
	switch {
	case v <= 0xffff:
		return Attribute{Type: uint16(t), Basic: true, Value: uint16(v)}
	case v <= 0xffffffff:
		return Attribute{Type: uint16(t), Data: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}
	}
	d := make([]byte, 8)
	for i := range d {
		d[i] = byte(v >> (56 - 8*i))
	}
	return Attribute{Type: uint16(t), Data: d}
}

// Uint returns the attribute's value as an integer; variable attributes
// longer than 8 bytes (or empty) have none.
func (a Attribute) Uint() (uint64, bool) {
	if a.Basic {
		return uint64(a.Value), true
	}
	if len(a.Data) == 0 || len(a.Data) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range a.Data {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// String prints type and value numerically; the meaning depends on the DOI.
func (a Attribute) String() string {
	if a.Basic {
		return fmt.Sprintf("%d=%d", a.Type, a.Value)
	}
	return fmt.Sprintf("%d=%x", a.Type, a.Data)
}

// Attributes is the attribute list of a transform.
type Attributes []Attribute

// Get returns the first attribute of type t.
func (as Attributes) Get(t uint16) (Attribute, bool) {
	for _, a := range as {
		if a.Type == t {
			return a, true
		}
	}
	return Attribute{}, false
}

// Count returns how many attributes have type t (a repeated attribute is
// legal only for Life Type/Life Duration pairs).
func (as Attributes) Count(t uint16) int {
	n := 0
	for _, a := range as {
		if a.Type == t {
			n++
		}
	}
	return n
}

// Phase1 returns the integer value of the first phase 1 attribute of type t.
func (as Attributes) Phase1(t Phase1Attr) (uint64, bool) {
	a, ok := as.Get(uint16(t))
	if !ok {
		return 0, false
	}
	return a.Uint()
}

// IPsec returns the integer value of the first IPsec attribute of type t.
func (as Attributes) IPsec(t IPsecAttr) (uint64, bool) {
	a, ok := as.Get(uint16(t))
	if !ok {
		return 0, false
	}
	return a.Uint()
}

// marshal appends the attributes (RFC 2408, 3.3).
func (as Attributes) marshal(b *cryptobyte.Builder) {
	for _, a := range as {
		if a.Type&attrFormatBit != 0 {
			b.SetError(fmt.Errorf("isakmp: attribute type %d exceeds 15 bits", a.Type))
			return
		}
		if a.Basic {
			b.AddUint16(attrFormatBit | a.Type)
			b.AddUint16(a.Value)
			continue
		}
		if len(a.Data) > 0xffff {
			b.SetError(ErrAttributeTooLong)
			return
		}
		b.AddUint16(a.Type)
		b.AddUint16(uint16(len(a.Data)))
		b.AddBytes(a.Data)
	}
}

// parseAttributes decodes the attributes filling s (RFC 2408, 3.3).
func parseAttributes(s cryptobyte.String) (Attributes, error) {
	var as Attributes
	if n := countAttributes(s); n > 0 {
		as = make(Attributes, 0, n)
	}
	for !s.Empty() {
		if len(as) == MaxAttributes {
			return nil, ErrTooManyAttributes
		}
		var t, v uint16
		if !s.ReadUint16(&t) || !s.ReadUint16(&v) {
			return nil, ErrAttributeLength
		}
		if t&attrFormatBit != 0 {
			as = append(as, Attribute{Type: t &^ attrFormatBit, Basic: true, Value: v})
			continue
		}
		var d []byte
		if !s.ReadBytes(&d, int(v)) {
			return nil, ErrAttributeLength
		}
		as = append(as, Attribute{Type: t, Data: d})
	}
	return as, nil
}

// countAttributes returns how many attributes s holds, reading only their
// type and length fields, so that parseAttributes allocates its slice once
// (a phase 1 transform has some seven). It stops where an attribute does
// not fit (parseAttributes reports it) and at MaxAttributes.
func countAttributes(s cryptobyte.String) int {
	n := 0
	for ; len(s) >= 4 && n < MaxAttributes; n++ {
		l := 4
		if s[0]&(attrFormatBit>>8) == 0 {
			l += int(s[2])<<8 | int(s[3])
		}
		if l > len(s) {
			return n
		}
		s = s[l:]
	}
	return n
}
