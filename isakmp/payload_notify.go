package isakmp

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Notification is the Notification payload (RFC 2408, 3.14).
//
//	!              Domain of Interpretation  (DOI)                  !
//	!  Protocol-ID  !   SPI Size    !      Notify Message Type      !
//	~                Security Parameter Index (SPI)                 ~
//	~                       Notification Data                       ~
type Notification struct {
	Received
	DOI        DOI
	Protocol   ProtocolID
	SPI        []byte
	NotifyType NotifyType
	Data       []byte
}

// Type returns PayloadN.
func (*Notification) Type() PayloadType { return PayloadN }

func (p *Notification) marshalBody(b *cryptobyte.Builder) {
	if len(p.SPI) > MaxSPISize {
		b.SetError(ErrSPISize)
		return
	}
	b.AddUint32(uint32(p.DOI))
	b.AddUint8(uint8(p.Protocol))
	b.AddUint8(uint8(len(p.SPI)))
	b.AddUint16(uint16(p.NotifyType))
	b.AddBytes(p.SPI)
	b.AddBytes(p.Data)
}

func (p *Notification) unmarshalBody(s cryptobyte.String) error {
	var doi uint32
	var proto, spiSize uint8
	var nt uint16
	if !s.ReadUint32(&doi) || !s.ReadUint8(&proto) || !s.ReadUint8(&spiSize) || !s.ReadUint16(&nt) {
		return ErrShortPayload
	}
	if spiSize > MaxSPISize {
		return fmt.Errorf("%w: %d", ErrSPISize, spiSize)
	}
	if !s.ReadBytes(&p.SPI, int(spiSize)) {
		return fmt.Errorf("%w: SPI of %d bytes", ErrShortPayload, spiSize)
	}
	p.DOI, p.Protocol, p.NotifyType, p.Data = DOI(doi), ProtocolID(proto), NotifyType(nt), s
	return nil
}

// Delete is the Delete payload (RFC 2408, 3.15).
//
//	!              Domain of Interpretation  (DOI)                  !
//	!  Protocol-Id  !   SPI Size    !           # of SPIs           !
//	~               Security Parameter Index(es) (SPI)              ~
type Delete struct {
	Received
	DOI      DOI
	Protocol ProtocolID
	// SPISize is kept apart from the SPIs so that a Delete with no SPI
	// still re-encodes its size.
	SPISize uint8
	SPIs    [][]byte
}

// Type returns PayloadD.
func (*Delete) Type() PayloadType { return PayloadD }

func (p *Delete) marshalBody(b *cryptobyte.Builder) {
	if p.SPISize > MaxSPISize {
		b.SetError(ErrSPISize)
		return
	}
	if len(p.SPIs) > MaxDeleteSPIs {
		b.SetError(ErrTooManySPIs)
		return
	}
	b.AddUint32(uint32(p.DOI))
	b.AddUint8(uint8(p.Protocol))
	b.AddUint8(p.SPISize)
	b.AddUint16(uint16(len(p.SPIs)))
	for _, spi := range p.SPIs {
		if len(spi) != int(p.SPISize) {
			b.SetError(fmt.Errorf("%w: SPI of %d bytes in a Delete of size %d", ErrSPISize, len(spi), p.SPISize))
			return
		}
		b.AddBytes(spi)
	}
}

func (p *Delete) unmarshalBody(s cryptobyte.String) error {
	var doi uint32
	var proto uint8
	var n uint16
	if !s.ReadUint32(&doi) || !s.ReadUint8(&proto) || !s.ReadUint8(&p.SPISize) || !s.ReadUint16(&n) {
		return ErrShortPayload
	}
	p.DOI, p.Protocol = DOI(doi), ProtocolID(proto)
	if p.SPISize > MaxSPISize {
		return fmt.Errorf("%w: %d", ErrSPISize, p.SPISize)
	}
	if n > MaxDeleteSPIs {
		return fmt.Errorf("%w: %d", ErrTooManySPIs, n)
	}
	if len(s) != int(n)*int(p.SPISize) {
		return fmt.Errorf("%w: %d SPIs of %d bytes in %d bytes", ErrSPISize, n, p.SPISize, len(s))
	}
	p.SPIs = make([][]byte, n)
	for i := range p.SPIs {
		s.ReadBytes(&p.SPIs[i], int(p.SPISize))
	}
	return nil
}
