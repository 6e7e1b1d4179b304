package phase1

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzResponder hands arbitrary first messages to the responder, as the
// daemon does with any datagram that carries a zero responder cookie, and
// runs whatever work it asks for. Nothing may panic, and a message that
// starts no exchange must leave nothing behind. The seeds are the first
// messages real initiators sent (strongSwan Main and Aggressive Mode,
// ike-scan), from isakmp's captures.
func FuzzResponder(f *testing.F) {
	for _, pat := range []string{"strongswan-*-01-i2r.bin", "ike-scan-*-01-i2r.bin"} {
		files, _ := filepath.Glob(filepath.Join(capturesDir, pat))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	mm, am := pskPair("main")
	am.mode = "aggressive"
	mm.self = "b"
	pm, pa := policyFor(f, mm), policyFor(f, am)
	env := testEnv()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 28 {
			return
		}
		var ic [8]byte
		copy(ic[:], data)
		for _, p := range []Config{{Policy: pm}, {Policy: pa}} {
			x, st := NewResponder(env, p, ic, [8]byte{1}, addrB, addrA, data)
			if x == nil {
				if st.Work != nil || st.Established {
					t.Fatal("refused first message left work or an SA")
				}
				continue
			}
			for n := 0; st.Work != nil && n < 4; n++ {
				st = x.Resume(env, st.Work())
			}
		}
	})
}
