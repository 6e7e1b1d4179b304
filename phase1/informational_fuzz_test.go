package phase1

import (
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// FuzzOpenInformational feeds arbitrary datagrams to the informational
// decoder, keyed and not, and what it accepts to ReceiveInformational: no
// panic, and an accepted protected message re-seals to a message that opens
// to the same content.
func FuzzOpenInformational(f *testing.F) {
	prf, _ := ikecrypto.NewPRF(ikecrypto.HashSHA2_256)
	c, _ := ikecrypto.NewCipher(ikecrypto.EncryptionAES, 128, make([]byte, 16))
	k := InfoKeys{ICookie: [8]byte{1}, RCookie: [8]byte{2}, PRF: prf, Cipher: c, SKEYIDa: make([]byte, 32), LastBlock: make([]byte, 16)}
	esp, _ := DeleteIPsec(isakmp.ProtoESP, 1, 2)
	for i, ps := range [][]isakmp.Payload{{k.DPDNotify(false, 1)}, {esp}, {k.DeleteISAKMP(), k.InitialContact()}} {
		b, _ := SealInformational(k, uint32(i+1), ps)
		f.Add(b)
		p, _ := PlainInformational(k.ICookie, k.RCookie, 0, ps)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if inf, err := OpenInformational(data, nil); err == nil {
			ReceiveInformational(inf, k.ICookie, k.RCookie, addrA)
		}
		inf, err := OpenInformational(data, &k)
		if err != nil {
			return
		}
		ReceiveInformational(inf, k.ICookie, k.RCookie, addrA)
		again, err := SealInformational(k, inf.MessageID, infoPayloads(inf))
		if err != nil {
			t.Fatalf("accepted content does not re-seal: %v", err)
		}
		if _, err := OpenInformational(again, &k); err != nil {
			t.Fatalf("re-sealed message refused: %v", err)
		}
	})
}
