package phase1

import (
	"bytes"
	"crypto/cipher"
	"fmt"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// Bounds on received payloads that RFC 2409 sets for phase 1.
const (
	// minNonce and maxNonce bound the nonce data (RFC 2409, 5: "the length
	// of nonce payload MUST be between 8 and 256 bytes inclusive").
	minNonce = 8
	maxNonce = 256
	// nonceLen is the nonce we send: 32 bytes, as strongSwan does.
	nonceLen = 32
	// ikePort is the ISAKMP port an ID payload may name (RFC 2407, 4.6.2).
	ikePort = 500
	// protoUDP is the IP protocol number of UDP.
	protoUDP = 17
)

// header returns the ISAKMP header of a phase 1 message on s (RFC 2408,
// 3.1); message ID 0 for Main and Aggressive Mode.
func (s *SA) header() isakmp.Header {
	return isakmp.Header{InitiatorCookie: s.ICookie, ResponderCookie: s.RCookie, Exchange: s.Mode}
}

// encodePlain encodes an unencrypted phase 1 message.
func (s *SA) encodePlain(ps []isakmp.Payload) ([]byte, error) {
	m := &isakmp.Message{Header: s.header(), Payloads: ps}
	return m.Encode()
}

// seal encrypts a phase 1 message body with Ka under the SA's IV chain and
// returns the next IV (RFC 2409, Appendix B), with isakmp's message
// protection (padding as strongSwan pads, see isakmp's protect.go).
func seal(h isakmp.Header, ps []isakmp.Payload, block cipher.Block, iv []byte) (out, next []byte, err error) {
	return isakmp.Seal(h, ps, block, iv)
}

// open decrypts m's body under iv and decodes its payload chain into
// m.Payloads (isakmp's Message.Open). It returns the next IV, which the
// caller adopts only when the message verifies (RFC 2409, 5.3 keeps the IV
// of a message that fails).
func open(m *isakmp.Message, block cipher.Block, iv []byte) (next []byte, err error) {
	_, next, err = m.Open(block, iv)
	return next, err
}

// received is the payloads of one phase 1 message sorted by kind, with
// the checks every phase 1 message shares. What an SA may keep of it (the
// SA payload body, KE, nonce, ID, Vendor IDs, certificates) is a copy of
// its own (detach): a sub-slice would keep the whole datagram alive, up to
// 64 KiB for each half-open SA that a spoofed first message creates.
type received struct {
	sa      *isakmp.SA
	ke      *isakmp.KE
	nonce   *isakmp.Nonce
	id      *isakmp.ID
	hash    *isakmp.Hash
	sig     *isakmp.Signature
	certs   [][]byte
	crs     []*isakmp.CertRequest
	vids    [][]byte
	natd    []*isakmp.NATD
	notify  []*isakmp.Notification
	unknown []isakmp.PayloadType
}

// sortPayloads files the payloads of a message. A second SA, KE, nonce, ID,
// HASH or SIG payload is malformed (RFC 2409, 5 lists one of each); an
// unknown payload type is recorded for INVALID-PAYLOAD-TYPE (RFC 2408, 5.3).
func sortPayloads(ps []isakmp.Payload) (*received, error) {
	r := &received{}
	dup := func(t isakmp.PayloadType) error {
		return fmt.Errorf("%w: more than one %s payload", isakmp.PayloadMalformed, t)
	}
	for _, p := range ps {
		switch p := p.(type) {
		case *isakmp.SA:
			if r.sa != nil {
				return nil, dup(p.Type())
			}
			r.sa = p
		case *isakmp.KE:
			if r.ke != nil {
				return nil, dup(p.Type())
			}
			r.ke = p
		case *isakmp.Nonce:
			if r.nonce != nil {
				return nil, dup(p.Type())
			}
			r.nonce = p
		case *isakmp.ID:
			if r.id != nil {
				return nil, dup(p.Type())
			}
			r.id = p
		case *isakmp.Hash:
			if r.hash != nil {
				return nil, dup(p.Type())
			}
			r.hash = p
		case *isakmp.Signature:
			if r.sig != nil {
				return nil, dup(p.Type())
			}
			r.sig = p
		case *isakmp.Cert:
			if p.Encoding == isakmp.CertX509Signature && len(r.certs) < 8 {
				r.certs = append(r.certs, p.Data)
			}
		case *isakmp.CertRequest:
			if len(r.crs) < 16 {
				r.crs = append(r.crs, p)
			}
		case *isakmp.VendorID:
			if len(r.vids) < 32 {
				r.vids = append(r.vids, p.Data)
			}
		case *isakmp.NATD:
			if len(r.natd) < 16 {
				r.natd = append(r.natd, p)
			}
		case *isakmp.Notification:
			r.notify = append(r.notify, p)
		case *isakmp.Unknown:
			r.unknown = append(r.unknown, p.Kind)
		}
	}
	r.detach()
	return r, nil
}

// maxKeptVendorID is how much of one Vendor ID an SA keeps: every ID
// LookupVendorID knows is shorter (its prefixes too), and the log shows
// at most maxVendorIDLog bytes of an unknown one.
const maxKeptVendorID = 64

// detach replaces what an SA may keep of the message by copies that share
// nothing with the datagram (see received).
func (r *received) detach() {
	if r.sa != nil {
		sa := *r.sa
		sa.Raw, sa.RawPayload = bytes.Clone(sa.Raw), nil
		r.sa = &sa
	}
	if r.ke != nil {
		r.ke = &isakmp.KE{Data: bytes.Clone(r.ke.Data)}
	}
	if r.nonce != nil {
		r.nonce = &isakmp.Nonce{Data: bytes.Clone(r.nonce.Data)}
	}
	if r.id != nil {
		r.id = detachID(r.id)
	}
	for i, v := range r.vids {
		r.vids[i] = bytes.Clone(v[:min(len(v), maxKeptVendorID)])
	}
	for i, c := range r.certs {
		r.certs[i] = bytes.Clone(c)
	}
}

// detachID copies a received ID payload: its body (which HASH_I and
// HASH_R cover as received, idBody) and its data within it.
func detachID(id *isakmp.ID) *isakmp.ID {
	c := &isakmp.ID{IDType: id.IDType, Protocol: id.Protocol, Port: id.Port, Data: bytes.Clone(id.Data)}
	if raw := id.RawBody(); raw != nil {
		c.Raw = bytes.Clone(raw)
		if n := len(c.Raw) - len(id.Data); n >= 0 && bytes.Equal(c.Raw[n:], id.Data) {
			c.Data = c.Raw[n:]
		}
	}
	return c
}

// checkNonce enforces RFC 2409, 5's nonce length of 8 to 256 bytes.
func checkNonce(n *isakmp.Nonce) error {
	if n == nil {
		return fmt.Errorf("%w: no nonce payload", isakmp.PayloadMalformed)
	}
	if len(n.Data) < minNonce || len(n.Data) > maxNonce {
		return fmt.Errorf("%w: nonce of %d bytes (RFC 2409, 5: 8-256)", isakmp.PayloadMalformed, len(n.Data))
	}
	return nil
}

// checkKE checks that the KE payload has exactly the public value length
// of the negotiated group (RFC 2409, 5; RFC 5903, 7).
func checkKE(ke *isakmp.KE, g ikecrypto.Group) error {
	if ke == nil {
		return fmt.Errorf("%w: no key exchange payload", isakmp.PayloadMalformed)
	}
	if len(ke.Data) != g.PublicLen() {
		return fmt.Errorf("%w: key exchange data of %d bytes, group %s needs %d",
			isakmp.InvalidKeyInformation, len(ke.Data), ikecrypto.GroupID(g.ID()), g.PublicLen())
	}
	return nil
}

// checkID enforces the phase 1 ID payload rules of RFC 2407, 4.6.2: protocol
// and port both zero, or UDP and port 500; and an identity type phase 1 can
// authenticate (an address, a name or a DN; subnets and ranges are Quick
// Mode identities).
func checkID(id *isakmp.ID) error {
	if id == nil {
		return fmt.Errorf("%w: no identification payload", isakmp.PayloadMalformed)
	}
	if !(id.Protocol == 0 && id.Port == 0) && !(id.Protocol == protoUDP && id.Port == ikePort) {
		return fmt.Errorf("%w: phase 1 ID with protocol %d port %d (RFC 2407, 4.6.2: 0/0 or UDP/500)",
			isakmp.InvalidIDInformation, id.Protocol, id.Port)
	}
	switch id.IDType {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		if _, err := id.Addr(); err != nil {
			return fmt.Errorf("%w: %v", isakmp.InvalidIDInformation, err)
		}
	case isakmp.IDFQDN, isakmp.IDUserFQDN, isakmp.IDDERASN1DN, isakmp.IDKeyID:
		if len(id.Data) == 0 {
			return fmt.Errorf("%w: empty %s identity", isakmp.InvalidIDInformation, id.IDType)
		}
	default:
		return fmt.Errorf("%w: identity type %s in phase 1", isakmp.InvalidIDInformation, id.IDType)
	}
	return nil
}

// idBody returns the body of an ID payload as HASH_I/HASH_R cover it: the
// received bytes, or the canonical encoding of one we build.
func idBody(id *isakmp.ID) ([]byte, error) {
	if b := id.RawBody(); b != nil {
		return b, nil
	}
	return isakmp.MarshalBody(id)
}
