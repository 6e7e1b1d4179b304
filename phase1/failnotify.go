package phase1

import (
	"fmt"

	"github.com/iked/iked/isakmp"
)

// notifyMessage builds the Informational message that tells the peer why
// phase 1 failed (RFC 2408, 3.14 and 5). Before the keys exist it goes in
// the clear (RFC 2408, 5: the ISAKMP SA is not yet established); after,
// it is protected as RFC 2409, 5.7 says: HDR*, HASH(1), N with
// HASH(1) = prf(SKEYID_a, M-ID | N) and the IV derived from the last phase
// 1 block and the message ID.
func (x *Exchange) notifyMessage(env Env, n isakmp.NotifyType) ([]byte, error) {
	k, _ := x.failKeys()
	return x.infoMessage(env, k.ISAKMPNotify(n, nil))
}

// deleteMessage is the protected Delete of the ISAKMP SA (RFC 2408, 3.15)
// that follows a failure notify when the peer holds the SA as established.
func (x *Exchange) deleteMessage(env Env) ([]byte, error) {
	k, _ := x.failKeys()
	return x.infoMessage(env, k.DeleteISAKMP())
}

// failKeys returns the keys that protect a failure's informational, or ok
// false before they exist. The IV comes from the last block of the last
// encrypted phase 1 message either side processed (RFC 2409, Appendix B):
// strongSwan derives it from the message it sent last, so a failure on a
// message we decrypted (MM5, MM6, AM3) starts from that message's last
// block, which pendingIV holds, not from the IV before it.
func (x *Exchange) failKeys() (k InfoKeys, ok bool) {
	k, ok = x.SA.InfoKeys()
	if ok && x.pendingIV != nil {
		k.LastBlock = x.pendingIV
	}
	return k, ok
}

// infoMessage seals one payload in an Informational exchange of its own
// with a fresh message ID, in the clear before the keys exist
// (PlainInformational), protected with HASH(1) after (SealInformational).
func (x *Exchange) infoMessage(env Env, np isakmp.Payload) ([]byte, error) {
	id, err := isakmp.NewMessageID(env.Rand, nil)
	if err != nil {
		return nil, err
	}
	k, keyed := x.failKeys()
	if !keyed {
		return PlainInformational(k.ICookie, k.RCookie, id, []isakmp.Payload{np})
	}
	return SealInformational(k, id, []isakmp.Payload{np})
}

// openInformational decrypts an encrypted Informational message on the SA
// and checks its HASH(1) (RFC 2409, 5.7) with the informational codec
// (openInfoMessage), so that a forged notify cannot end the negotiation.
// It returns the notifies the message carries.
func (x *Exchange) openInformational(m *isakmp.Message) ([]*isakmp.Notification, error) {
	k, keyed := x.SA.InfoKeys()
	if !keyed {
		return nil, fmt.Errorf("phase1: encrypted informational before keys")
	}
	inf, err := openInfoMessage(m, &k)
	if err != nil {
		return nil, err
	}
	return inf.Notifies, nil
}
