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
// nothing with the datagram (see received). The copies are made in one
// buffer: they are kept as long as the handshake (settle copies what an
// established SA keeps again), and one allocation per message is cheaper
// than one per payload.
func (r *received) detach() {
	n := 0
	if r.sa != nil {
		n += len(r.sa.Raw)
	}
	if r.ke != nil {
		n += len(r.ke.Data)
	}
	if r.nonce != nil {
		n += len(r.nonce.Data)
	}
	if r.id != nil {
		n += len(r.id.RawBody()) + len(r.id.Data)
	}
	for _, v := range r.vids {
		n += min(len(v), maxKeptVendorID)
	}
	for _, c := range r.certs {
		n += len(c)
	}
	c := copier{buf: make([]byte, 0, n)}
	if r.sa != nil {
		sa := *r.sa
		sa.Raw, sa.RawPayload = c.copy(sa.Raw), nil
		r.sa = &sa
	}
	switch {
	case r.ke != nil && r.nonce != nil:
		// Together, as Main Mode's third and fourth messages carry them
		// (RFC 2409, 5): nothing keeps either payload, only their data.
		kn := &struct {
			ke    isakmp.KE
			nonce isakmp.Nonce
		}{isakmp.KE{Data: c.copy(r.ke.Data)}, isakmp.Nonce{Data: c.copy(r.nonce.Data)}}
		r.ke, r.nonce = &kn.ke, &kn.nonce
	case r.ke != nil:
		r.ke = &isakmp.KE{Data: c.copy(r.ke.Data)}
	case r.nonce != nil:
		r.nonce = &isakmp.Nonce{Data: c.copy(r.nonce.Data)}
	}
	if r.id != nil {
		r.id = detachID(r.id, &c)
	}
	for i, v := range r.vids {
		r.vids[i] = c.copy(v[:min(len(v), maxKeptVendorID)])
	}
	for i, cert := range r.certs {
		r.certs[i] = c.copy(cert)
	}
}

// copier copies byte slices one after the other into buf, which the
// caller sized for all of them.
type copier struct{ buf []byte }

// copy returns a copy of b in c's buffer, with no room to grow into the
// next copy; like bytes.Clone, nil for nil.
func (c *copier) copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(c.buf)
	c.buf = append(c.buf, b...)
	return c.buf[start:len(c.buf):len(c.buf)]
}

// detachID copies a received ID payload into c: its body (which HASH_I
// and HASH_R cover as received, idBody) and its data within it.
func detachID(id *isakmp.ID, c *copier) *isakmp.ID {
	d := &isakmp.ID{IDType: id.IDType, Protocol: id.Protocol, Port: id.Port}
	raw := id.RawBody()
	if raw != nil {
		d.Raw = c.copy(raw)
		if n := len(d.Raw) - len(id.Data); n >= 0 && bytes.Equal(d.Raw[n:], id.Data) {
			d.Data = d.Raw[n:]
			return d
		}
	}
	d.Data = c.copy(id.Data)
	return d
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
