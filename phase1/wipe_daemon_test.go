package phase1

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
)

// TestRemovalWipesSecrets: once an ISAKMP SA is established its DH
// private key and g^xy are gone (nothing after phase 1 needs them); when
// it is removed (ikectl terminate), every secret byte slice it still owned
// is zero afterwards (SKEYID, SKEYID_d/_a/_e, Ka, the IV chain).
// ikecrypto.WipePrivateKey's own test checks that a MODP exponent's bytes
// are zero.
func TestRemovalWipesSecrets(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "", "", false)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		a, _ := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
		c := a.rec.established()[0]
		a.rec.mu.Lock()
		s := a.rec.states[c]
		a.rec.mu.Unlock()
		if s.Handshake != nil || (s.RemoteID != nil && s.RemoteID.RawBody() != nil) {
			t.Fatal("the established SA keeps what only phase 1 needed: DH secrets, nonces, the offer (settle)")
		}
		secrets := map[string][]byte{
			"SKEYID": s.keys.SKEYID, "SKEYID_d": s.keys.SKEYIDd, "SKEYID_a": s.keys.SKEYIDa,
			"SKEYID_e": s.keys.SKEYIDe, "Ka": s.ka, "IV": s.iv,
		}
		for name, b := range secrets {
			if len(b) == 0 || bytes.Equal(b, make([]byte, len(b))) {
				t.Fatalf("%s empty or zero before removal", name)
			}
		}
		if r := a.d.Control(control.Request{Command: control.CmdTerminate, Name: "c"}); r.Error != "" {
			t.Fatal(r.Error)
		}
		time.Sleep(time.Second)
		if why, _, gone := a.rec.reason(c); !gone || why != daemon.RemoveTerminated {
			t.Fatalf("SA not terminated: %v %v", why, gone)
		}
		for name, b := range secrets {
			if !bytes.Equal(b, make([]byte, len(b))) {
				t.Errorf("%s not zero after removal: %x", name, b)
			}
		}
		if s.cipher != nil || s.ka != nil {
			t.Error("secrets still referenced after removal")
		}
	})
}
