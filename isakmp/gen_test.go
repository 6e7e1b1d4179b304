package isakmp

import (
	"math/rand/v2"
	"net/netip"
)

// Random payload and message generators for the property tests.

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randAttrs(r *rand.Rand) Attributes {
	n := r.IntN(6)
	as := make(Attributes, 0, n)
	for range n {
		t := uint16(r.IntN(0x8000))
		if r.IntN(2) == 0 {
			as = append(as, Attribute{Type: t, Basic: true, Value: uint16(r.Uint32())})
		} else {
			as = append(as, Attribute{Type: t, Data: randBytes(r, 9)})
		}
	}
	return as
}

func randSA(r *rand.Rand) *SA {
	sa := &SA{DOI: DOI(r.IntN(2)), Situation: SitIdentityOnly}
	for i := range 1 + r.IntN(3) {
		pr := &Proposal{Number: uint8(i + 1), Protocol: ProtocolID(1 + r.IntN(4)), SPI: randBytes(r, MaxSPISize)}
		for j := range 1 + r.IntN(4) {
			pr.Transforms = append(pr.Transforms, &Transform{Number: uint8(j + 1), ID: uint8(r.Uint32()), Attributes: randAttrs(r)})
		}
		sa.Proposals = append(sa.Proposals, pr)
	}
	return sa
}

func randAddr(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(r.Uint32())})
	}
	a := [16]byte{0x20, 0x01, 0x0d, 0xb8}
	a[15] = byte(r.Uint32())
	return netip.AddrFrom16(a)
}

// randPayload returns a random payload of a random known (or unknown) type.
func randPayload(r *rand.Rand) Payload {
	switch r.IntN(18) {
	case 0:
		return randSA(r)
	case 1:
		return &KE{Data: randBytes(r, 300)}
	case 2:
		return &ID{IDType: IDType(r.IntN(12)), Protocol: uint8(r.Uint32()), Port: uint16(r.Uint32()), Data: randBytes(r, 40)}
	case 3:
		return &Cert{Encoding: CertEncoding(r.IntN(11)), Data: randBytes(r, 100)}
	case 4:
		return &CertRequest{CertType: CertX509Signature, Authority: randBytes(r, 60)}
	case 5:
		return &Hash{Data: randBytes(r, 64)}
	case 6:
		return &Signature{Data: randBytes(r, 256)}
	case 7:
		return &Nonce{Data: randBytes(r, 64)}
	case 8:
		return &Notification{DOI: DOIIPsec, Protocol: ProtocolID(r.IntN(5)), SPI: randBytes(r, MaxSPISize), NotifyType: NotifyType(r.Uint32()), Data: randBytes(r, 20)}
	case 9:
		size := uint8(r.IntN(MaxSPISize + 1))
		d := &Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: size}
		for range r.IntN(5) {
			spi := make([]byte, size)
			for i := range spi {
				spi[i] = byte(r.Uint32())
			}
			d.SPIs = append(d.SPIs, spi)
		}
		return d
	case 10:
		return &VendorID{Data: randBytes(r, 20)}
	case 11:
		return &NATD{Draft: r.IntN(2) == 0, Hash: randBytes(r, 32)}
	case 12:
		return &NATOA{Draft: r.IntN(2) == 0, Addr: randAddr(r)}
	case 13:
		return &Fragment{ID: uint16(r.Uint32()), Number: uint8(r.Uint32()), Flags: uint8(r.IntN(2)), Data: randBytes(r, 100)}
	case 14:
		return &Unknown{Kind: PayloadType(15 + r.IntN(5)), Data: randBytes(r, 30)}
	case 16:
		return randAttr(r)
	case 15:
		id, _ := IDFromRange(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.200"))
		return id
	default:
		return IDFromPrefix(netip.MustParsePrefix("2001:db8:1::/48"))
	}
}

func randMessage(r *rand.Rand) *Message {
	m := &Message{Header: Header{
		Exchange:  []ExchangeType{ExchangeMain, ExchangeAggressive, ExchangeQuickMode, ExchangeInformational}[r.IntN(4)],
		Flags:     Flags(r.IntN(8)) &^ FlagEncryption,
		MessageID: r.Uint32(),
	}}
	for i := range 8 {
		m.Header.InitiatorCookie[i] = byte(r.Uint32())
		m.Header.ResponderCookie[i] = byte(r.Uint32())
	}
	for range r.IntN(8) {
		m.Payloads = append(m.Payloads, randPayload(r))
	}
	return m
}

// randAttr returns an Attribute payload of random type, identifier and
// attributes, basic and variable, some empty as a REQUEST asks for them.
func randAttr(r *rand.Rand) *Attr {
	p := &Attr{CfgType: CfgType(1 + r.IntN(4)), Identifier: uint16(r.Uint32())}
	for range r.IntN(6) {
		t := uint16(r.IntN(0x8000))
		if r.IntN(2) == 0 {
			p.Attributes = append(p.Attributes, Attribute{Type: t, Basic: true, Value: uint16(r.Uint32())})
		} else {
			p.Attributes = append(p.Attributes, Attribute{Type: t, Data: randBytes(r, 20)})
		}
	}
	return p
}
