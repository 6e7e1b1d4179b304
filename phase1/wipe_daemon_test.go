package phase1_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack/stacktest"
)

// TestRemovalWipesSecrets: once an ISAKMP SA is established its DH
// private key and g^xy are gone with its Handshake (nothing after phase 1
// needs them); when it is removed (ikectl terminate), every secret byte
// slice it still owned is zero afterwards (SKEYID, SKEYID_d/_a/_e, Ka, the
// IV chain). ikecrypto.WipePrivateKey's own test checks that a MODP
// exponent's bytes are zero; TestLifeHalfOpenExpiryWipes checks the DH
// values of an SA that never got established.
func TestRemovalWipesSecrets(t *testing.T) {
	pa, pb := lifePolicies("main", "", "", false)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, _ := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
		c := a.rec.established()[0]
		a.rec.mu.Lock()
		s := a.rec.states[c]
		a.rec.mu.Unlock()
		if s.Handshake != nil || phase1.DHKey(s) != nil || (s.RemoteID != nil && s.RemoteID.RawBody() != nil) {
			t.Fatal("the established SA keeps what only phase 1 needed: DH secrets, nonces, the offer")
		}
		secrets := phase1.Secrets(s)
		for name, b := range secrets {
			if len(b) == 0 || bytes.Equal(b, make([]byte, len(b))) {
				t.Fatalf("%s empty or zero before removal", name)
			}
		}
		a.Ctl(t, control.CmdTerminate, "link")
		time.Sleep(time.Second)
		if why, _, gone := a.rec.reason(c); !gone || why != daemon.RemoveTerminated {
			t.Fatalf("SA not terminated: %v %v", why, gone)
		}
		for name, b := range secrets {
			if !bytes.Equal(b, make([]byte, len(b))) {
				t.Errorf("%s not zero after removal: %x", name, b)
			}
		}
		if phase1.HoldsKeys(s) {
			t.Error("secrets still referenced after removal")
		}
	})
}
