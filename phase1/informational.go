package phase1

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// Informational exchanges (RFC 2408, 4.8; RFC 2409, 5.7) carry notifies and
// deletes. Once the ISAKMP SA is keyed they are protected by it:
//
//	HDR*, HASH(1), N/D
//	HASH(1) = prf(SKEYID_a, M-ID | N/D)
//
// encrypted under an IV of their own, hash(last phase 1 CBC block | M-ID)
// (RFC 2409, Appendix B), with a fresh random message ID. Before the keys
// exist (a refusal of MM1) they go in the clear with message ID 0 or a
// random one.

// InfoKeys is what protects informational exchanges on one ISAKMP SA. It
// is a value, not the SA, so that the codec composes with any caller.
type InfoKeys struct {
	ICookie, RCookie [8]byte
	PRF              ikecrypto.PRF
	SKEYIDa          []byte
	Cipher           ikecrypto.Cipher
	// LastBlock is the last CBC block of phase 1: the IV seed of every
	// informational exchange (RFC 2409, Appendix B).
	LastBlock []byte
}

// InfoKeys returns the keys of an established SA, or ok false when the SA
// is not keyed yet (then informationals go in the clear).
func (s *SA) InfoKeys() (k InfoKeys, ok bool) {
	if s.cipher == nil || s.PRF == nil || len(s.keys.SKEYIDa) == 0 || len(s.iv) == 0 {
		return InfoKeys{ICookie: s.ICookie, RCookie: s.RCookie}, false
	}
	return InfoKeys{ICookie: s.ICookie, RCookie: s.RCookie, PRF: s.PRF,
		SKEYIDa: s.keys.SKEYIDa, Cipher: s.cipher, LastBlock: s.iv}, true
}

// cookies returns the 16-byte SPI of the ISAKMP SA (RFC 2408, 3.14/3.15).
func (k *InfoKeys) cookies() []byte { return cookieSPI(k.ICookie, k.RCookie) }

// Errors of the informational codec.
var (
	ErrInfoNotInformational = errors.New("phase1: not an informational message")
	ErrInfoCookies          = errors.New("phase1: informational cookies do not match the SA")
	ErrInfoNoHash           = errors.New("phase1: protected informational does not start with HASH")
	ErrInfoHash             = errors.New("phase1: informational HASH(1) does not verify")
	ErrInfoUnprotected      = errors.New("phase1: unprotected informational on a keyed SA")
	ErrInfoNotKeyed         = errors.New("phase1: protected informational before the SA is keyed")
	ErrInfoMessageID        = errors.New("phase1: protected informational with message ID 0")
	ErrInfoEmpty            = errors.New("phase1: informational without a notify or delete")
	ErrInfoPayload          = errors.New("phase1: informational with a payload other than N and D")
)

// maxInfoPayloads bounds the N and D payloads of one informational message;
// strongSwan sends one, a batch of deletes a handful.
const maxInfoPayloads = 16

// Informational is a decoded informational message: its notifies and
// deletes, in order.
type Informational struct {
	MessageID uint32
	// Protected: it was encrypted and its HASH(1) verified.
	Protected bool
	Notifies  []*isakmp.Notification
	Deletes   []*isakmp.Delete
}

// SealInformational builds a protected informational message (RFC 2409,
// 5.7) with message ID mid carrying ps (Notification and Delete payloads).
func SealInformational(k InfoKeys, mid uint32, ps []isakmp.Payload) ([]byte, error) {
	if k.Cipher == nil || k.PRF == nil || len(k.SKEYIDa) == 0 {
		return nil, ErrInfoNotKeyed
	}
	if mid == 0 {
		return nil, ErrInfoMessageID
	}
	if err := checkInfoPayloads(ps); err != nil {
		return nil, err
	}
	body, err := isakmp.EncodeChain(ps)
	if err != nil {
		return nil, err
	}
	hash := ikecrypto.InformationalHash(k.PRF, k.SKEYIDa, mid, body)
	iv := ikecrypto.Phase2IV(k.PRF, k.LastBlock, mid, k.Cipher.BlockSize())
	h := isakmp.Header{InitiatorCookie: k.ICookie, ResponderCookie: k.RCookie,
		Exchange: isakmp.ExchangeInformational, MessageID: mid}
	all := append([]isakmp.Payload{&isakmp.Hash{Data: hash}}, ps...)
	out, _, err := seal(h, all, k.Cipher.Block(), iv)
	return out, err
}

// PlainInformational builds an unprotected informational message (RFC
// 2408, 5 and 3.14: before the ISAKMP SA is keyed, e.g. NO-PROPOSAL-CHOSEN
// in answer to MM1). rCookie may be zero when we refuse a first message.
func PlainInformational(iCookie, rCookie [8]byte, mid uint32, ps []isakmp.Payload) ([]byte, error) {
	if err := checkInfoPayloads(ps); err != nil {
		return nil, err
	}
	m := &isakmp.Message{Header: isakmp.Header{InitiatorCookie: iCookie, ResponderCookie: rCookie,
		Exchange: isakmp.ExchangeInformational, MessageID: mid}, Payloads: ps}
	return m.Encode()
}

// checkInfoPayloads allows only what an informational exchange carries.
func checkInfoPayloads(ps []isakmp.Payload) error {
	if len(ps) == 0 {
		return ErrInfoEmpty
	}
	if len(ps) > maxInfoPayloads {
		return fmt.Errorf("%w: %d payloads", ErrInfoPayload, len(ps))
	}
	for _, p := range ps {
		switch p.(type) {
		case *isakmp.Notification, *isakmp.Delete:
		default:
			return fmt.Errorf("%w: %v", ErrInfoPayload, p.Type())
		}
	}
	return nil
}

// OpenInformational decodes an informational datagram. With keys (keyed
// non-nil) it must be encrypted, carry both cookies of the SA and a
// HASH(1) that verifies (compared in constant time); without keys it must
// be in the clear (a protected one cannot be checked and is refused).
// Unknown payloads after the HASH are refused too (RFC 2409, 5.7 allows
// only N and D); Vendor IDs are ignored, as strongSwan ignores them.
func OpenInformational(data []byte, keyed *InfoKeys) (*Informational, error) {
	m, err := isakmp.Decode(data)
	if err != nil {
		return nil, err
	}
	return openInfoMessage(m, keyed)
}

func openInfoMessage(m *isakmp.Message, keyed *InfoKeys) (*Informational, error) {
	h := m.Header
	if h.Exchange != isakmp.ExchangeInformational {
		return nil, fmt.Errorf("%w: %v", ErrInfoNotInformational, h.Exchange)
	}
	inf := &Informational{MessageID: h.MessageID}
	encrypted := h.Flags&isakmp.FlagEncryption != 0
	payloads := m.Payloads
	switch {
	case keyed == nil && encrypted:
		return nil, ErrInfoNotKeyed
	case keyed != nil && !encrypted:
		return nil, ErrInfoUnprotected
	case keyed != nil:
		if h.InitiatorCookie != keyed.ICookie || h.ResponderCookie != keyed.RCookie {
			return nil, ErrInfoCookies
		}
		if h.MessageID == 0 {
			return nil, ErrInfoMessageID
		}
		iv := ikecrypto.Phase2IV(keyed.PRF, keyed.LastBlock, h.MessageID, keyed.Cipher.BlockSize())
		if _, err := open(m, keyed.Cipher.Block(), iv); err != nil {
			return nil, err
		}
		if len(m.Payloads) == 0 {
			return nil, ErrInfoNoHash
		}
		hp, ok := m.Payloads[0].(*isakmp.Hash)
		if !ok {
			return nil, ErrInfoNoHash
		}
		rest, err := m.After(hp)
		if err != nil {
			return nil, err
		}
		want := ikecrypto.InformationalHash(keyed.PRF, keyed.SKEYIDa, h.MessageID, rest)
		if !hmac.Equal(want, hp.Data) {
			return nil, ErrInfoHash
		}
		inf.Protected = true
		payloads = m.Payloads[1:]
	}
	for _, p := range payloads {
		if len(inf.Notifies)+len(inf.Deletes) == maxInfoPayloads {
			return nil, fmt.Errorf("%w: more than %d", ErrInfoPayload, maxInfoPayloads)
		}
		switch p := p.(type) {
		case *isakmp.Notification:
			inf.Notifies = append(inf.Notifies, p)
		case *isakmp.Delete:
			inf.Deletes = append(inf.Deletes, p)
		case *isakmp.VendorID:
		default:
			return nil, fmt.Errorf("%w: %v", ErrInfoPayload, p.Type())
		}
	}
	if len(inf.Notifies)+len(inf.Deletes) == 0 {
		return nil, ErrInfoEmpty
	}
	return inf, nil
}

// ISAKMPNotify returns a Notification about the ISAKMP SA: protocol
// ISAKMP, both cookies as SPI (RFC 2408, 3.14; RFC 3706, 5 for DPD).
func (k *InfoKeys) ISAKMPNotify(t isakmp.NotifyType, data []byte) *isakmp.Notification {
	return &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, SPI: k.cookies(),
		NotifyType: t, Data: data}
}

// DeleteISAKMP returns the Delete payload of the ISAKMP SA itself: protocol
// ISAKMP, SPI size 16, the two cookies as the one SPI (RFC 2408, 3.15).
func (k *InfoKeys) DeleteISAKMP() *isakmp.Delete {
	return &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, SPISize: 16,
		SPIs: [][]byte{k.cookies()}}
}

// DeleteIPsec returns a Delete payload for IPsec SAs of one protocol (ESP
// or AH: 4-byte SPIs; IPComp: 2-byte CPIs carried as 4 bytes by strongSwan,
// so 4 here too) (RFC 2408, 3.15; RFC 2407, 4.6.3.3). Each SPI is the one
// the receiver of the Delete uses as inbound SPI: ours for our inbound SA.
func DeleteIPsec(proto isakmp.ProtocolID, spis ...uint32) (*isakmp.Delete, error) {
	if proto != isakmp.ProtoESP && proto != isakmp.ProtoAH && proto != isakmp.ProtoIPCOMP {
		return nil, fmt.Errorf("phase1: Delete of protocol %v", proto)
	}
	if len(spis) == 0 || len(spis) > isakmp.MaxDeleteSPIs {
		return nil, fmt.Errorf("phase1: Delete of %d SPIs", len(spis))
	}
	d := &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: proto, SPISize: 4}
	for _, s := range spis {
		d.SPIs = append(d.SPIs, binary.BigEndian.AppendUint32(nil, s))
	}
	return d, nil
}
