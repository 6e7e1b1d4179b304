package isakmp

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// SA is the Security Association payload (RFC 2408, 3.4): a DOI, a
// situation and the proposals, which are themselves payloads nested in the
// SA body (RFC 2408, 3.5 and 3.6).
//
//	!                 Domain of Interpretation  (DOI)               !
//	!                           Situation                           ~
type SA struct {
	Received
	DOI DOI
	// Situation is the IPsec DOI situation (RFC 2407, 4.2); only
	// SIT_IDENTITY_ONLY is in use, and like strongSwan the decoder reads
	// it as exactly four bytes for every DOI.
	Situation Situation
	Proposals []*Proposal
}

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

func (p *SA) marshalBody(b *cryptobyte.Builder) {
	b.AddUint32(uint32(p.DOI))
	b.AddUint32(uint32(p.Situation))
	if len(p.Proposals) > MaxProposals {
		b.SetError(ErrTooManyProposals)
		return
	}
	if len(p.Proposals) == 0 {
		b.SetError(ErrNoProposal)
		return
	}
	for i, pr := range p.Proposals {
		next := PayloadNone
		if i+1 < len(p.Proposals) {
			next = PayloadProposal
		}
		if !appendGeneric(b, next, pr) {
			return
		}
	}
}

func (p *SA) unmarshalBody(s cryptobyte.String) error {
	all := s
	var doi, sit uint32
	if !s.ReadUint32(&doi) || !s.ReadUint32(&sit) {
		return ErrShortPayload
	}
	p.DOI, p.Situation = DOI(doi), Situation(sit)
	if s.Empty() {
		return ErrNoProposal
	}
	for next := PayloadProposal; next != PayloadNone; {
		if len(p.Proposals) == MaxProposals {
			return ErrTooManyProposals
		}
		off := len(all) - len(s)
		n, whole, body, err := readGeneric(&s)
		if err != nil {
			return fmt.Errorf("proposal %d: %w", len(p.Proposals)+1, err)
		}
		pr := new(Proposal)
		if err := pr.unmarshalBody(body); err != nil {
			return fmt.Errorf("proposal %d: %w", len(p.Proposals)+1, err)
		}
		pr.setRaw(whole, off)
		p.Proposals = append(p.Proposals, pr)
		// RFC 2408, 3.5: next payload is 2 (P) or 0 for the last proposal.
		switch {
		case n != PayloadNone && n != PayloadProposal:
			return fmt.Errorf("%w: %v after a proposal", ErrNextPayload, n)
		case n == PayloadNone && !s.Empty():
			return fmt.Errorf("%w: %d bytes after the last proposal", ErrTrailingData, len(s))
		case n == PayloadProposal && s.Empty():
			return fmt.Errorf("%w: another proposal announced", ErrTruncatedChain)
		}
		next = n
	}
	return nil
}

// Proposal is a Proposal payload (RFC 2408, 3.5), nested in an SA payload.
//
//	!  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//	!                        SPI (variable)                         !
type Proposal struct {
	Received
	Number     uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []*Transform
}

// Type returns PayloadProposal.
func (*Proposal) Type() PayloadType { return PayloadProposal }

func (p *Proposal) marshalBody(b *cryptobyte.Builder) {
	if len(p.SPI) > MaxSPISize {
		b.SetError(ErrSPISize)
		return
	}
	if len(p.Transforms) > MaxTransforms {
		b.SetError(ErrTooManyTransforms)
		return
	}
	if len(p.Transforms) == 0 {
		b.SetError(ErrNoProposal)
		return
	}
	b.AddUint8(p.Number)
	b.AddUint8(uint8(p.Protocol))
	b.AddUint8(uint8(len(p.SPI)))
	b.AddUint8(uint8(len(p.Transforms)))
	b.AddBytes(p.SPI)
	for i, t := range p.Transforms {
		next := PayloadNone
		if i+1 < len(p.Transforms) {
			next = PayloadTransform
		}
		if !appendGeneric(b, next, t) {
			return
		}
	}
}

func (p *Proposal) unmarshalBody(s cryptobyte.String) error {
	all := s
	var proto, spiSize, count uint8
	if !s.ReadUint8(&p.Number) || !s.ReadUint8(&proto) || !s.ReadUint8(&spiSize) || !s.ReadUint8(&count) {
		return ErrShortPayload
	}
	p.Protocol = ProtocolID(proto)
	if spiSize > MaxSPISize {
		return fmt.Errorf("%w: %d", ErrSPISize, spiSize)
	}
	if !s.ReadBytes(&p.SPI, int(spiSize)) {
		return fmt.Errorf("%w: SPI of %d bytes", ErrShortPayload, spiSize)
	}
	if count == 0 {
		return ErrNoProposal
	}
	if count > MaxTransforms {
		return fmt.Errorf("%w: %d", ErrTooManyTransforms, count)
	}
	// The transforms are made together, as many as are announced and can
	// fit in what is left (a transform is at least its generic header and
	// four bytes), so that a false count reserves nothing more.
	ts := make([]Transform, min(int(count), len(s)/(GenericHeaderLen+4)))
	p.Transforms = make([]*Transform, 0, len(ts))
	for next := PayloadTransform; next != PayloadNone; {
		if len(p.Transforms) == int(count) {
			return fmt.Errorf("%w: more than %d", ErrTransformCount, count)
		}
		off := len(all) - len(s)
		n, whole, body, err := readGeneric(&s)
		if err != nil {
			return fmt.Errorf("transform %d: %w", len(p.Transforms)+1, err)
		}
		var t *Transform
		if i := len(p.Transforms); i < len(ts) {
			t = &ts[i]
		} else {
			t = new(Transform)
		}
		if err := t.unmarshalBody(body); err != nil {
			return fmt.Errorf("transform %d: %w", len(p.Transforms)+1, err)
		}
		t.setRaw(whole, off)
		p.Transforms = append(p.Transforms, t)
		// RFC 2408, 3.6: next payload is 3 (T) or 0 for the last transform.
		switch {
		case n != PayloadNone && n != PayloadTransform:
			return fmt.Errorf("%w: %v after a transform", ErrNextPayload, n)
		case n == PayloadNone && !s.Empty():
			return fmt.Errorf("%w: %d bytes after the last transform", ErrTrailingData, len(s))
		case n == PayloadTransform && s.Empty():
			return fmt.Errorf("%w: another transform announced", ErrTruncatedChain)
		}
		next = n
	}
	if len(p.Transforms) != int(count) {
		return fmt.Errorf("%w: %d announced, %d present", ErrTransformCount, count, len(p.Transforms))
	}
	return nil
}

// Transform is a Transform payload (RFC 2408, 3.6), nested in a proposal.
//
//	!  Transform #  !  Transform-Id !           RESERVED2           !
//	~                        SA Attributes                          ~
type Transform struct {
	Received
	Number uint8
	// ID is the transform ID; its meaning depends on the proposal's
	// protocol (see TransformIDString).
	ID         uint8
	Attributes Attributes
}

// Type returns PayloadTransform.
func (*Transform) Type() PayloadType { return PayloadTransform }

func (t *Transform) marshalBody(b *cryptobyte.Builder) {
	if len(t.Attributes) > MaxAttributes {
		b.SetError(ErrTooManyAttributes)
		return
	}
	b.AddUint8(t.Number)
	b.AddUint8(t.ID)
	b.AddUint16(0)
	t.Attributes.marshal(b)
}

func (t *Transform) unmarshalBody(s cryptobyte.String) error {
	var reserved uint16
	if !s.ReadUint8(&t.Number) || !s.ReadUint8(&t.ID) || !s.ReadUint16(&reserved) {
		return ErrShortPayload
	}
	if reserved != 0 {
		return fmt.Errorf("%w: transform RESERVED2", ErrReservedNotZero)
	}
	as, err := parseAttributes(s)
	if err != nil {
		return err
	}
	t.Attributes = as
	return nil
}
