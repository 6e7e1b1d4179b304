package quickmode

import (
	"crypto/cipher"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/iked/iked/isakmp"
)

// Errors of the Quick Mode wire checks. A message that fails them is
// dropped without changing the exchange (RFC 2409, 5.5: a HASH that does
// not verify is an attack or corruption, not a negotiation result).
var (
	errNotEncrypted = errors.New("quickmode: Quick Mode message not encrypted")
	errNoHash       = errors.New("quickmode: message does not start with a HASH payload")
	errHash         = errors.New("quickmode: HASH does not verify")
	errPayloads     = errors.New("quickmode: unexpected payloads")
)

// seal encrypts the payload chain under iv (RFC 2409, Appendix B) with
// isakmp's message protection, as phase 1 does (padding as strongSwan
// pads, see isakmp/protect.go), and returns the datagram and the next IV:
// the last ciphertext block.
func seal(h isakmp.Header, ps []isakmp.Payload, block cipher.Block, iv []byte) (out, next []byte, err error) {
	return isakmp.Seal(h, ps, block, iv)
}

// open decrypts m under iv and decodes its payload chain into m.Payloads
// (isakmp's Message.Open); the caller adopts the returned next IV only
// once the message verified (RFC 2409, 5.3 and Appendix B). A Quick Mode
// message must be encrypted (RFC 2409, 5.5).
func open(m *isakmp.Message, block cipher.Block, iv []byte) (next []byte, err error) {
	if m.Header.Flags&isakmp.FlagEncryption == 0 {
		return nil, errNotEncrypted
	}
	_, next, err = m.Open(block, iv)
	return next, err
}

// hashFirst returns the HASH payload that must come first in every Quick
// Mode message (RFC 2409, 5.5) and the received bytes of every payload
// after it, which HASH(1) and HASH(2) cover.
func hashFirst(m *isakmp.Message) (*isakmp.Hash, []byte, error) {
	if len(m.Payloads) == 0 {
		return nil, nil, errNoHash
	}
	h, ok := m.Payloads[0].(*isakmp.Hash)
	if !ok {
		return nil, nil, errNoHash
	}
	rest, err := m.After(h)
	if err != nil {
		return nil, nil, err
	}
	return h, rest, nil
}

// verify compares a received hash with ours in constant time.
func verify(got, want []byte) error {
	if !hmac.Equal(got, want) {
		return errHash
	}
	return nil
}

// qmPayloads are the payloads of QM1 or QM2 after the HASH, sorted.
type qmPayloads struct {
	sa       *isakmp.SA
	nonce    *isakmp.Nonce
	ke       *isakmp.KE
	ids      []*isakmp.ID
	notifies []*isakmp.Notification
	natoa    []*isakmp.NATOA
	// idBuf holds ids, at most two (RFC 2409, 5.5: IDci and IDcr),
	// without an allocation of their own.
	idBuf [2]*isakmp.ID
}

// Bounds on what one Quick Mode message may carry.
const (
	maxNotifies = 8
	minNonce    = 8   // RFC 2409, 5: "the length of nonce payload MUST be between 8 and 256 bytes"
	maxNonce    = 256 // inclusive
)

// sortQM sorts the payloads after the HASH (RFC 2409, 5.5: SA, Nonce,
// optional KE, optional IDci/IDcr; RFC 3947, 5.2 NAT-OA; RFC 2407, 4.6.3.1
// notifies). Vendor IDs are ignored as strongSwan ignores them; anything
// else is PAYLOAD-MALFORMED. One SA payload only: iked negotiates one SA
// bundle per Quick Mode, as strongSwan does.
func sortQM(ps []isakmp.Payload) (*qmPayloads, error) {
	r := &qmPayloads{}
	r.ids = r.idBuf[:0]
	for _, p := range ps {
		switch p := p.(type) {
		case *isakmp.SA:
			if r.sa != nil {
				return nil, fmt.Errorf("%w: %w: more than one SA payload", isakmp.PayloadMalformed, errPayloads)
			}
			r.sa = p
		case *isakmp.Nonce:
			if r.nonce != nil {
				return nil, fmt.Errorf("%w: %w: two nonces", isakmp.PayloadMalformed, errPayloads)
			}
			if len(p.Data) < minNonce || len(p.Data) > maxNonce {
				return nil, fmt.Errorf("%w: nonce of %d bytes", isakmp.PayloadMalformed, len(p.Data))
			}
			r.nonce = p
		case *isakmp.KE:
			if r.ke != nil {
				return nil, fmt.Errorf("%w: %w: two KE payloads", isakmp.PayloadMalformed, errPayloads)
			}
			r.ke = p
		case *isakmp.ID:
			if len(r.ids) == 2 {
				return nil, fmt.Errorf("%w: %w: more than two IDs", isakmp.PayloadMalformed, errPayloads)
			}
			r.ids = append(r.ids, p)
		case *isakmp.Notification:
			if len(r.notifies) == maxNotifies {
				return nil, fmt.Errorf("%w: %w: more than %d notifies", isakmp.PayloadMalformed, errPayloads, maxNotifies)
			}
			r.notifies = append(r.notifies, p)
		case *isakmp.NATOA:
			if len(r.natoa) == 2 {
				return nil, fmt.Errorf("%w: %w: more than two NAT-OA", isakmp.PayloadMalformed, errPayloads)
			}
			r.natoa = append(r.natoa, p)
		case *isakmp.VendorID:
		default:
			return nil, fmt.Errorf("%w: %w: %v in Quick Mode", isakmp.PayloadMalformed, errPayloads, p.Type())
		}
	}
	if r.sa == nil || r.nonce == nil {
		return nil, fmt.Errorf("%w: %w: SA and Nonce are required", isakmp.PayloadMalformed, errPayloads)
	}
	if len(r.ids) == 1 {
		return nil, fmt.Errorf("%w: %w: IDci without IDcr", isakmp.PayloadMalformed, errPayloads)
	}
	return r, nil
}
