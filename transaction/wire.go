package transaction

import (
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
)

// Errors of the wire checks: a message that fails them is dropped and
// counted (daemon Result.Reject), the exchange unchanged.
var (
	errNotEncrypted = errors.New("transaction: Transaction message not encrypted")
	errCookies      = errors.New("transaction: cookies do not match the ISAKMP SA")
	errNoHash       = errors.New("transaction: message does not start with a HASH payload")
	errHash         = errors.New("transaction: HASH does not verify")
	errPayloads     = errors.New("transaction: a Transaction message carries HASH and one ATTR payload")
	errAttributes   = errors.New("transaction: attributes refused")
)

// maxAttrData bounds the value of one configuration attribute; user
// names, passwords, banners and split networks fit far below it.
const maxAttrData = 1024

// protection is what protects the messages of one exchange: the ISAKMP
// SA's keys and the IV chain of its message ID (RFC 2409, Appendix B).
type protection struct {
	keys phase1.InfoKeys
	mid  uint32
	iv   []byte
}

func newProtection(k phase1.InfoKeys, mid uint32) *protection {
	return &protection{keys: k, mid: mid, iv: ikecrypto.Phase2IV(k.PRF, k.LastBlock, mid, k.Cipher.BlockSize())}
}

// seal builds HDR*, HASH, ATTR (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.4:
// HASH = prf(SKEYID_a, M-ID | ATTR)) and advances the IV.
func (p *protection) seal(a *isakmp.Attr) ([]byte, error) {
	body, err := isakmp.EncodeChain([]isakmp.Payload{a})
	if err != nil {
		return nil, err
	}
	hash := ikecrypto.InformationalHash(p.keys.PRF, p.keys.SKEYIDa, p.mid, body)
	h := isakmp.Header{InitiatorCookie: p.keys.ICookie, ResponderCookie: p.keys.RCookie,
		Exchange: isakmp.ExchangeTransaction, MessageID: p.mid}
	out, next, err := isakmp.Seal(h, []isakmp.Payload{&isakmp.Hash{Data: hash}, a}, p.keys.Cipher.Block(), p.iv)
	if err != nil {
		return nil, err
	}
	p.iv = next
	return out, nil
}

// open decrypts and verifies a message of the exchange and returns its
// ATTR payload and the IV that follows it, which the caller adopts
// (accept) only once it accepts the message: a refused message leaves
// the chain as it was, so that the peer's retransmission still decrypts.
// Vendor IDs are ignored, as strongSwan ignores them; anything else, or a
// second ATTR, is refused, and so are oversized or repeated attributes.
func (p *protection) open(data []byte) (*isakmp.Attr, []byte, error) {
	a, next, err := p.decode(data)
	if err != nil {
		return nil, nil, err
	}
	return a, next, nil
}

// accept adopts the IV after a message open returned.
func (p *protection) accept(next []byte) { p.iv = next }

func (p *protection) decode(data []byte) (*isakmp.Attr, []byte, error) {
	m, err := isakmp.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	h := m.Header
	if h.Exchange != isakmp.ExchangeTransaction || h.MessageID != p.mid {
		return nil, nil, fmt.Errorf("transaction: %s with message ID %#x in exchange %#x", h.Exchange, h.MessageID, p.mid)
	}
	if h.Flags&isakmp.FlagEncryption == 0 {
		return nil, nil, errNotEncrypted
	}
	if h.InitiatorCookie != p.keys.ICookie || h.ResponderCookie != p.keys.RCookie {
		return nil, nil, errCookies
	}
	_, next, err := m.Open(p.keys.Cipher.Block(), p.iv)
	if err != nil {
		return nil, nil, err
	}
	if len(m.Payloads) == 0 {
		return nil, nil, errNoHash
	}
	hp, ok := m.Payloads[0].(*isakmp.Hash)
	if !ok {
		return nil, nil, errNoHash
	}
	rest, err := m.After(hp)
	if err != nil {
		return nil, nil, err
	}
	if !hmac.Equal(hp.Data, ikecrypto.InformationalHash(p.keys.PRF, p.keys.SKEYIDa, p.mid, rest)) {
		return nil, nil, errHash
	}
	var attr *isakmp.Attr
	for _, pl := range m.Payloads[1:] {
		switch pl := pl.(type) {
		case *isakmp.Attr:
			if attr != nil {
				return nil, nil, errPayloads
			}
			attr = pl
		case *isakmp.VendorID:
		default:
			return nil, nil, fmt.Errorf("%w: %v", errPayloads, pl.Type())
		}
	}
	if attr == nil {
		return nil, nil, errPayloads
	}
	if err := checkAttributes(attr.Attributes); err != nil {
		return nil, nil, err
	}
	return attr, next, nil
}

// checkAttributes refuses an attribute value over maxAttrData and an
// XAUTH attribute given twice (which of two passwords would count?).
func checkAttributes(as isakmp.Attributes) error {
	for i, a := range as {
		if len(a.Data) > maxAttrData {
			return fmt.Errorf("%w: %v of %d bytes", errAttributes, isakmp.CfgAttr(a.Type), len(a.Data))
		}
		if isXAuth(a.Type) && as[:i].Count(a.Type) > 0 {
			return fmt.Errorf("%w: %v repeated", errAttributes, isakmp.CfgAttr(a.Type))
		}
	}
	return nil
}

// isXAuth reports whether t is an XAUTH attribute type
// (draft-beaulieu-ike-xauth-02, 6.2).
func isXAuth(t uint16) bool {
	return t >= uint16(isakmp.XAuthType) && t <= uint16(isakmp.XAuthAnswer)
}

// hasXAuth reports whether a carries XAUTH attributes: an XAUTH request or
// status rather than Mode Config.
func hasXAuth(a *isakmp.Attr) bool {
	for _, at := range a.Attributes {
		if isXAuth(at.Type) {
			return true
		}
	}
	return false
}

// textOf returns a TLV attribute's value, with one trailing NUL removed
// (some clients, Android's among them, terminate the password).
func textOf(as isakmp.Attributes, t isakmp.CfgAttr) (string, bool) {
	a, ok := as.Get(uint16(t))
	if !ok || a.Basic {
		return "", false
	}
	d := a.Data
	if n := len(d); n > 0 && d[n-1] == 0 {
		d = d[:n-1]
	}
	return string(d), true
}
