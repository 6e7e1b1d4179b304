package isakmp

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"

	"golang.org/x/crypto/cryptobyte"
)

// ID is the Identification payload with the IPsec DOI's fields
// (RFC 2408, 3.8; RFC 2407, 4.6.2). Data is kept as received; the helpers
// below build and check it by type, so that a malformed identity is reported
// by the exchange (INVALID-ID-INFORMATION) rather than rejected as a
// malformed message.
//
//	!   ID Type     !  Protocol ID  !             Port              !
//	~                     Identification Data                       ~
type ID struct {
	Received
	IDType   IDType
	Protocol uint8 // IP protocol number, 0 = any
	Port     uint16
	Data     []byte
}

// Type returns PayloadID.
func (*ID) Type() PayloadType { return PayloadID }

func (p *ID) marshalBody(b *cryptobyte.Builder) {
	b.AddUint8(uint8(p.IDType))
	b.AddUint8(p.Protocol)
	b.AddUint16(p.Port)
	b.AddBytes(p.Data)
}

func (p *ID) unmarshalBody(s cryptobyte.String) error {
	var t uint8
	if !s.ReadUint8(&t) || !s.ReadUint8(&p.Protocol) || !s.ReadUint16(&p.Port) {
		return ErrShortPayload
	}
	p.IDType, p.Data = IDType(t), s
	return nil
}

// IDFromAddr builds an ID_IPV4_ADDR or ID_IPV6_ADDR (RFC 2407, 4.6.2.2 and .6).
func IDFromAddr(a netip.Addr) *ID {
	a = a.Unmap()
	if a.Is4() {
		return &ID{IDType: IDIPv4Addr, Data: a.AsSlice()}
	}
	return &ID{IDType: IDIPv6Addr, Data: a.AsSlice()}
}

// IDFromPrefix builds an ID_IPV4_ADDR_SUBNET or ID_IPV6_ADDR_SUBNET: address
// then mask (RFC 2407, 4.6.2.5 and .7). The address is masked first.
func IDFromPrefix(p netip.Prefix) *ID {
	p = p.Masked()
	a := p.Addr().Unmap()
	bits := p.Bits()
	if a.Is4() && p.Addr().Is4In6() {
		bits -= 96
	}
	n := a.BitLen() / 8
	mask := make([]byte, n)
	for i := range mask {
		switch {
		case bits >= 8:
			mask[i] = 0xff
			bits -= 8
		case bits > 0:
			mask[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	t := IDIPv4AddrSubnet
	if n == 16 {
		t = IDIPv6AddrSubnet
	}
	return &ID{IDType: t, Data: append(a.AsSlice(), mask...)}
}

// IDFromRange builds an ID_IPV4_ADDR_RANGE or ID_IPV6_ADDR_RANGE: start then
// end address (RFC 2407, 4.6.2.8 and .9).
func IDFromRange(from, to netip.Addr) (*ID, error) {
	from, to = from.Unmap(), to.Unmap()
	if from.BitLen() != to.BitLen() || !from.IsValid() {
		return nil, fmt.Errorf("%w: range %v-%v", ErrAddressLength, from, to)
	}
	t := IDIPv4AddrRange
	if from.Is6() {
		t = IDIPv6AddrRange
	}
	return &ID{IDType: t, Data: append(from.AsSlice(), to.AsSlice()...)}, nil
}

// IDFromFQDN builds an ID_FQDN (RFC 2407, 4.6.2.3).
func IDFromFQDN(name string) *ID { return &ID{IDType: IDFQDN, Data: []byte(name)} }

// IDFromUserFQDN builds an ID_USER_FQDN, e.g. "user@example.org" (RFC 2407, 4.6.2.4).
func IDFromUserFQDN(name string) *ID { return &ID{IDType: IDUserFQDN, Data: []byte(name)} }

// IDFromDN builds an ID_DER_ASN1_DN from a DER-encoded distinguished name
// (RFC 2407, 4.6.2.10), e.g. an x509.Certificate's RawSubject.
func IDFromDN(der []byte) *ID { return &ID{IDType: IDDERASN1DN, Data: der} }

// IDFromKeyID builds an ID_KEY_ID (RFC 2407, 4.6.2.12).
func IDFromKeyID(key []byte) *ID { return &ID{IDType: IDKeyID, Data: key} }

func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR.
func (p *ID) Addr() (netip.Addr, error) {
	switch {
	case p.IDType == IDIPv4Addr && len(p.Data) == 4, p.IDType == IDIPv6Addr && len(p.Data) == 16:
		return addrOf(p.Data), nil
	case p.IDType == IDIPv4Addr || p.IDType == IDIPv6Addr:
		return netip.Addr{}, fmt.Errorf("%w: %v of %d bytes", ErrAddressLength, p.IDType, len(p.Data))
	}
	return netip.Addr{}, fmt.Errorf("%w: %v is not an address", ErrIDType, p.IDType)
}

// Prefix returns the subnet of an ID_IPV4/IPV6_ADDR_SUBNET. A mask that is
// not contiguous ones then zeros has no prefix and is an error.
func (p *ID) Prefix() (netip.Prefix, error) {
	n := 0
	switch p.IDType {
	case IDIPv4AddrSubnet:
		n = 4
	case IDIPv6AddrSubnet:
		n = 16
	default:
		return netip.Prefix{}, fmt.Errorf("%w: %v is not a subnet", ErrIDType, p.IDType)
	}
	if len(p.Data) != 2*n {
		return netip.Prefix{}, fmt.Errorf("%w: %v of %d bytes", ErrAddressLength, p.IDType, len(p.Data))
	}
	bits, ended := 0, false
	for _, m := range p.Data[n:] {
		for i := 7; i >= 0; i-- {
			if m>>i&1 == 1 {
				if ended {
					return netip.Prefix{}, fmt.Errorf("%w: non-contiguous mask %x", ErrAddressLength, p.Data[n:])
				}
				bits++
			} else {
				ended = true
			}
		}
	}
	return netip.PrefixFrom(addrOf(p.Data[:n]), bits), nil
}

// Range returns the first and last address of an ID_IPV4/IPV6_ADDR_RANGE.
func (p *ID) Range() (from, to netip.Addr, err error) {
	n := 0
	switch p.IDType {
	case IDIPv4AddrRange:
		n = 4
	case IDIPv6AddrRange:
		n = 16
	default:
		return from, to, fmt.Errorf("%w: %v is not a range", ErrIDType, p.IDType)
	}
	if len(p.Data) != 2*n {
		return from, to, fmt.Errorf("%w: %v of %d bytes", ErrAddressLength, p.IDType, len(p.Data))
	}
	return addrOf(p.Data[:n]), addrOf(p.Data[n:]), nil
}

// DN parses an ID_DER_ASN1_DN. Trailing bytes after the DER sequence are an
// error, so that a DN compares equal only to itself.
func (p *ID) DN() (pkix.Name, error) {
	var name pkix.Name
	if p.IDType != IDDERASN1DN {
		return name, fmt.Errorf("%w: %v is not a DN", ErrIDType, p.IDType)
	}
	var rdn pkix.RDNSequence
	rest, err := asn1.Unmarshal(p.Data, &rdn)
	if err != nil {
		return name, fmt.Errorf("isakmp: ID_DER_ASN1_DN: %w", err)
	}
	if len(rest) != 0 {
		return name, fmt.Errorf("%w: %d bytes after the DN", ErrTrailingData, len(rest))
	}
	name.FillFromRDNSequence(&rdn)
	return name, nil
}

// String prints the identity in the notation of strongSwan's logs where the
// type allows (addresses, subnets, ranges, names), and hex otherwise.
func (p *ID) String() string {
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if a, err := p.Addr(); err == nil {
			return a.String()
		}
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		if pr, err := p.Prefix(); err == nil {
			return pr.String()
		}
	case IDIPv4AddrRange, IDIPv6AddrRange:
		if f, t, err := p.Range(); err == nil {
			return f.String() + "-" + t.String()
		}
	case IDFQDN, IDUserFQDN:
		return fmt.Sprintf("%q", p.Data)
	case IDDERASN1DN:
		if n, err := p.DN(); err == nil {
			return n.String()
		}
	}
	return fmt.Sprintf("%v:%x", p.IDType, p.Data)
}
