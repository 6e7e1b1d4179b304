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

func (p *Cert) marshalBody(b *cryptobyte.Builder) { marshalCertBody(b, p.Encoding, p.Data) }

func (p *Cert) unmarshalBody(s cryptobyte.String) (err error) {
	p.Encoding, p.Data, err = unmarshalCertBody(s)
	return err
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

func (p *CertRequest) marshalBody(b *cryptobyte.Builder) { marshalCertBody(b, p.CertType, p.Authority) }

func (p *CertRequest) unmarshalBody(s cryptobyte.String) (err error) {
	p.CertType, p.Authority, err = unmarshalCertBody(s)
	return err
}

// marshalCertBody and unmarshalCertBody handle the body CERT and CR share
// (RFC 2408, 3.9 and 3.10): one octet of certificate encoding, then data
// (a certificate, or a CA's DN) to the end of the payload.
func marshalCertBody(b *cryptobyte.Builder, e CertEncoding, data []byte) {
	b.AddUint8(uint8(e))
	b.AddBytes(data)
}

func unmarshalCertBody(s cryptobyte.String) (CertEncoding, []byte, error) {
	var e uint8
	if !s.ReadUint8(&e) {
		return 0, nil, ErrShortPayload
	}
	return CertEncoding(e), s, nil
}
