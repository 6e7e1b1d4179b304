package isakmp

import "golang.org/x/crypto/cryptobyte"

// The payloads of this file are a generic header followed by opaque data;
// their meaning is set by the exchange, not by the encoding.

// KE is the Key Exchange payload: the Diffie-Hellman public value
// (RFC 2408, 3.7).
type KE struct {
	Received
	Data []byte
}

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

func (p *KE) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *KE) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }

// Hash is the Hash payload: HASH_I, HASH_R or a Quick Mode/Informational
// HASH(n) (RFC 2408, 3.11).
type Hash struct {
	Received
	Data []byte
}

// Type returns PayloadHASH.
func (*Hash) Type() PayloadType { return PayloadHASH }

func (p *Hash) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *Hash) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }

// Signature is the Signature payload: SIG_I or SIG_R (RFC 2408, 3.12).
type Signature struct {
	Received
	Data []byte
}

// Type returns PayloadSIG.
func (*Signature) Type() PayloadType { return PayloadSIG }

func (p *Signature) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *Signature) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }

// Nonce is the Nonce payload (RFC 2408, 3.13). RFC 2409, 5 bounds its
// length to 8-256 bytes; that rule belongs to the exchange, which sends
// PAYLOAD-MALFORMED, so the codec keeps any length.
type Nonce struct {
	Received
	Data []byte
}

// Type returns PayloadNONCE.
func (*Nonce) Type() PayloadType { return PayloadNONCE }

func (p *Nonce) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *Nonce) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }

// VendorID is the Vendor ID payload (RFC 2408, 3.16).
type VendorID struct {
	Received
	Data []byte
}

// Type returns PayloadVID.
func (*VendorID) Type() PayloadType { return PayloadVID }

func (p *VendorID) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *VendorID) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }

// NATD is the NAT Discovery payload: HASH(CKY-I | CKY-R | IP | Port)
// (RFC 3947, 3.2). Draft selects the pre-RFC payload number 130
// (draft-ietf-ipsec-nat-t-ike-02/03), used when the peer sent the draft
// vendor ID.
type NATD struct {
	Received
	Draft bool
	Hash  []byte
}

// Type returns PayloadNATD, or PayloadNATDDraft.
func (p *NATD) Type() PayloadType {
	if p.Draft {
		return PayloadNATDDraft
	}
	return PayloadNATD
}

func (p *NATD) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Hash) }
func (p *NATD) unmarshalBody(s cryptobyte.String) error { p.Hash = s; return nil }

// Unknown is a payload of a type this package does not know. The chain walker
// can skip it thanks to the generic header; RFC 2408, 5.3 has the receiver
// answer INVALID-PAYLOAD-TYPE, a decision left to the exchange.
type Unknown struct {
	Received
	Kind PayloadType
	Data []byte
}

// Type returns the received payload type.
func (p *Unknown) Type() PayloadType { return p.Kind }

func (p *Unknown) marshalBody(b *cryptobyte.Builder)       { b.AddBytes(p.Data) }
func (p *Unknown) unmarshalBody(s cryptobyte.String) error { p.Data = s; return nil }
