package phase1_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack/stacktest"
)

// TestRemovalWipesSecrets: when an established ISAKMP SA is removed
// (ikectl terminate), every secret byte slice it owned is zero afterwards
// (SKEYID, SKEYID_d/_a/_e, Ka, g^xy, the IV chain) and its DH private key
// can no longer compute anything (ikecrypto.WipePrivateKey, whose own test
// checks that a MODP exponent's bytes are zero).
func TestRemovalWipesSecrets(t *testing.T) {
	pa, pb := lifePolicies("main", "", "", false)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, _ := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
		c := a.rec.established()[0]
		a.rec.mu.Lock()
		s := a.rec.states[c]
		a.rec.mu.Unlock()
		secrets := phase1.Secrets(s)
		for name, b := range secrets {
			if len(b) == 0 || bytes.Equal(b, make([]byte, len(b))) {
				t.Fatalf("%s empty or zero before removal", name)
			}
		}
		dh, peer := phase1.DHKey(s), s.GXr
		if dh == nil {
			t.Fatal("no DH key on the established SA")
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
		if _, err := dh.SharedSecret(peer); !errors.Is(err, ikecrypto.ErrWiped) {
			t.Errorf("the DH key still works after removal: %v", err)
		}
		if phase1.HoldsKeys(s) {
			t.Error("secrets still referenced after removal")
		}
	})
}
