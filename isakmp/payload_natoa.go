package isakmp

import (
	"fmt"
	"net/netip"

	"golang.org/x/crypto/cryptobyte"
)

// NATOA is the NAT Original Address payload (RFC 3947, 5.2): the address a
// transport-mode peer sees itself as, for fixing checksums.
//
//	!    ID Type    !   RESERVED    !            RESERVED           !
//	~           IPv4 (4 octets) or IPv6 address (16 octets)         ~
//
// Draft selects the pre-RFC payload number 131.
type NATOA struct {
	Received
	Draft bool
	Addr  netip.Addr
}

// Type returns PayloadNATOA, or PayloadNATOADraft.
func (p *NATOA) Type() PayloadType {
	if p.Draft {
		return PayloadNATOADraft
	}
	return PayloadNATOA
}

func (p *NATOA) marshalBody(b *cryptobyte.Builder) {
	a := p.Addr
	switch {
	case a.Is4():
		b.AddUint8(uint8(IDIPv4Addr))
	case a.Is6():
		b.AddUint8(uint8(IDIPv6Addr))
	default:
		b.SetError(fmt.Errorf("%w: NAT-OA without an address", ErrAddressLength))
		return
	}
	b.AddUint8(0)
	b.AddUint16(0)
	b.AddBytes(a.AsSlice())
}

func (p *NATOA) unmarshalBody(s cryptobyte.String) error {
	var t, r1 uint8
	var r2 uint16
	if !s.ReadUint8(&t) || !s.ReadUint8(&r1) || !s.ReadUint16(&r2) {
		return ErrShortPayload
	}
	if r1 != 0 || r2 != 0 {
		return fmt.Errorf("%w: NAT-OA", ErrReservedNotZero)
	}
	switch {
	case IDType(t) == IDIPv4Addr && len(s) == 4, IDType(t) == IDIPv6Addr && len(s) == 16:
		p.Addr = addrOf(s)
		return nil
	case IDType(t) == IDIPv4Addr || IDType(t) == IDIPv6Addr:
		return fmt.Errorf("%w: NAT-OA %v of %d bytes", ErrAddressLength, IDType(t), len(s))
	}
	return fmt.Errorf("%w: NAT-OA with %v", ErrIDType, IDType(t))
}
