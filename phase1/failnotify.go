package phase1

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// notifyMessage builds the Informational message that tells the peer why
// phase 1 failed (RFC 2408, 3.14 and 5). Before the keys exist it goes in
// the clear (RFC 2408, 5: the ISAKMP SA is not yet established); after,
// it is protected as RFC 2409, 5.7 says: HDR*, HASH(1), N with
// HASH(1) = prf(SKEYID_a, M-ID | N) and the IV derived from the last phase
// 1 block and the message ID.
func (x *Exchange) notifyMessage(env Env, n isakmp.NotifyType) ([]byte, error) {
	s := x.SA
	np := &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, SPI: s.Cookies(), NotifyType: n}
	return x.infoMessage(env, np)
}

// deleteMessage is the protected Delete of the ISAKMP SA (RFC 2408, 3.15)
// that follows a failure notify when the peer holds the SA as established.
func (x *Exchange) deleteMessage(env Env) ([]byte, error) {
	k := InfoKeys{ICookie: x.SA.ICookie, RCookie: x.SA.RCookie}
	return x.infoMessage(env, k.DeleteISAKMP())
}

// infoMessage seals one payload in an Informational exchange of its own,
// in the clear before the keys exist, protected with HASH(1) after.
func (x *Exchange) infoMessage(env Env, np isakmp.Payload) ([]byte, error) {
	s := x.SA
	var mid [4]byte
	for mid == [4]byte{} {
		if _, err := io.ReadFull(env.Rand, mid[:]); err != nil {
			return nil, err
		}
	}
	id := binary.BigEndian.Uint32(mid[:])
	h := isakmp.Header{InitiatorCookie: s.ICookie, ResponderCookie: s.RCookie,
		Exchange: isakmp.ExchangeInformational, MessageID: id}
	if s.Cipher == nil || s.Keys.SKEYIDa == nil {
		m := &isakmp.Message{Header: h, Payloads: []isakmp.Payload{np}}
		return m.Encode()
	}
	nb, err := isakmp.EncodeChain([]isakmp.Payload{np})
	if err != nil {
		return nil, err
	}
	hash := ikecrypto.InformationalHash(s.PRF, s.Keys.SKEYIDa, id, nb)
	// The IV comes from the last block of the last encrypted phase 1
	// message either side processed (RFC 2409, Appendix B): strongSwan
	// derives it from the message it sent last, so a failure on a
	// message we decrypted (MM5, MM6, AM3) starts from that message's
	// last block, which pendingIV holds, not from the IV before it.
	last := s.IV
	if x.pendingIV != nil {
		last = x.pendingIV
	}
	iv := ikecrypto.Phase2IV(s.PRF, last, id, s.Cipher.BlockSize())
	out, _, err := seal(h, []isakmp.Payload{&isakmp.Hash{Data: hash}, np}, s.Cipher, iv)
	return out, err
}

// openInformational decrypts an encrypted Informational message on the SA
// and checks its HASH(1) (RFC 2409, 5.7), so that a forged notify cannot
// end the negotiation.
func (x *Exchange) openInformational(m *isakmp.Message) error {
	s := x.SA
	iv := ikecrypto.Phase2IV(s.PRF, s.IV, m.Header.MessageID, s.Cipher.BlockSize())
	if _, err := open(m, s.Cipher, iv); err != nil {
		return err
	}
	if len(m.Payloads) < 2 {
		return fmt.Errorf("phase1: informational without HASH and payload")
	}
	hp, ok := m.Payloads[0].(*isakmp.Hash)
	if !ok {
		return fmt.Errorf("phase1: informational does not start with HASH")
	}
	rest, err := m.After(hp)
	if err != nil {
		return err
	}
	want := ikecrypto.InformationalHash(s.PRF, s.Keys.SKEYIDa, m.Header.MessageID, rest)
	if !hmac.Equal(want, hp.Data) {
		return fmt.Errorf("phase1: informational HASH(1) does not verify")
	}
	return nil
}
