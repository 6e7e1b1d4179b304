package isakmp

import "golang.org/x/crypto/cryptobyte"

// Cert is the Certificate payload (RFC 2408, 3.9).
//
//	! Cert Encoding !                                               !
//	+-+-+-+-+-+-+-+-+                                               !
//	~                       Certificate Data                        ~
type Cert struct {
	Received
	Encoding CertEncoding
	Data     []byte
}

// Type returns PayloadCERT.
func (*Cert) Type() PayloadType { return PayloadCERT }

func (p *Cert) marshalBody(b *cryptobyte.Builder) {
	b.AddUint8(uint8(p.Encoding))
	b.AddBytes(p.Data)
}

func (p *Cert) unmarshalBody(s cryptobyte.String) error {
	var e uint8
	if !s.ReadUint8(&e) {
		return ErrShortPayload
	}
	p.Encoding, p.Data = CertEncoding(e), s
	return nil
}

// CertRequest is the Certificate Request payload (RFC 2408, 3.10): the
// certificate type wanted and, optionally, a DER distinguished name of an
// acceptable certificate authority.
//
//	!  Cert. Type   !                                               !
//	~                    Certificate Authority                      ~
type CertRequest struct {
	Received
	CertType  CertEncoding
	Authority []byte
}

// Type returns PayloadCR.
func (*CertRequest) Type() PayloadType { return PayloadCR }

func (p *CertRequest) marshalBody(b *cryptobyte.Builder) {
	b.AddUint8(uint8(p.CertType))
	b.AddBytes(p.Authority)
}

func (p *CertRequest) unmarshalBody(s cryptobyte.String) error {
	var e uint8
	if !s.ReadUint8(&e) {
		return ErrShortPayload
	}
	p.CertType, p.Authority = CertEncoding(e), s
	return nil
}
