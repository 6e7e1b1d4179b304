package phase1

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// TestNotifyAfterMM5 hands the Main Mode initiator, waiting for MM6, the
// protected informationals a responder may send instead (RFC 2409, 5.7):
// an error notify under the SA's keys fails the exchange with messages 48,
// 51 and 46; one that does not verify is what a different pre-shared key
// gives; one that verifies but carries a payload other than N or D, or
// no N or D, is dropped and the exchange still waits for MM6.
func TestNotifyAfterMM5(t *testing.T) {
	pols := consumePolicies(t)
	protected := func(x *Exchange, hashKey []byte, ps ...isakmp.Payload) []byte {
		k, ok := x.SA.InfoKeys()
		if !ok {
			t.Fatal("initiator has no keys after MM5")
		}
		const mid = 0x1234
		body, err := isakmp.EncodeChain(ps)
		if err != nil {
			t.Fatal(err)
		}
		if hashKey == nil {
			hashKey = k.SKEYIDa
		}
		h := isakmp.Header{InitiatorCookie: k.ICookie, ResponderCookie: k.RCookie,
			Exchange: isakmp.ExchangeInformational, MessageID: mid}
		hash := &isakmp.Hash{Data: ikecrypto.InformationalHash(k.PRF, hashKey, mid, body)}
		out, _, err := seal(h, append([]isakmp.Payload{hash}, ps...), k.Cipher.Block(),
			ikecrypto.Phase2IV(k.PRF, k.LastBlock, mid, k.Cipher.BlockSize()))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	has := func(log []notify.Message, num int, sub string) bool {
		for _, m := range log {
			if m.Num == num && strings.Contains(m.Text, sub) {
				return true
			}
		}
		return false
	}
	env := testEnv()
	n := func(x *Exchange) *isakmp.Notification {
		k, _ := x.SA.InfoKeys()
		return k.ISAKMPNotify(isakmp.InvalidIDInformation, nil)
	}
	failed := notify.Phase1Failed("", "", "", "").Num
	errNotify := notify.ReceivedErrorNotify(netip.AddrPort{}, "").Num

	x := playUntil(t, pols["main"][0], pols["main"][1], 5)
	st := x.Consume(env, protected(x, nil, n(x)))
	if !st.DeleteSA || !has(st.Log, errNotify, "INVALID-ID-INFORMATION") || !has(st.Log, failed, "peer sent INVALID-ID-INFORMATION") {
		t.Errorf("error notify: failed %v, log %v", st.DeleteSA, st.Log)
	}

	x = playUntil(t, pols["main"][0], pols["main"][1], 5)
	st = x.Consume(env, protected(x, []byte("not SKEYID_a"), n(x)))
	if !st.DeleteSA || !has(st.Log, failed, "pre-shared keys probably differ") {
		t.Errorf("notify that does not verify: failed %v, log %v", st.DeleteSA, st.Log)
	}

	for name, ps := range map[string]func(x *Exchange) []isakmp.Payload{
		"N with a nonce": func(x *Exchange) []isakmp.Payload {
			return []isakmp.Payload{n(x), &isakmp.Nonce{Data: make([]byte, 16)}}
		},
		"nonce alone": func(x *Exchange) []isakmp.Payload { return []isakmp.Payload{&isakmp.Nonce{Data: make([]byte, 16)}} },
	} {
		x = playUntil(t, pols["main"][0], pols["main"][1], 5)
		st = x.Consume(env, protected(x, nil, ps(x)...))
		if st.Reject == nil || st.DeleteSA || len(st.Log) != 0 || x.SA.State != StateMMISentAuth {
			t.Errorf("%s: reject %v, failed %v, log %v, state %s", name, st.Reject, st.DeleteSA, st.Log, x.SA.State)
		}
	}
}
