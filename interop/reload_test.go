package interop

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// TestIkedReloadRevokesCharon: charon brings up its IKE and CHILD SA with
// iked; iked's policy file then loses the connection (another one, to
// another gateway, takes its place) and iked reloads. iked deletes the
// ISAKMP SA and its IPsec SA with Delete payloads: charon logs the DELETE
// and lists no SA any more; iked lists none either.
func TestIkedReloadRevokesCharon(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], false)
	s.startIked(t)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	if err := s.charon.Initiate("c", 20*time.Second); err != nil {
		t.Fatalf("swanctl --initiate: %v\niked:\n%s", err, s.iked.catalogSummary())
	}
	if _, _, err := waitChild(s.charon, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(s.iked.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The connection "peer" goes; "other" answers a gateway that is not
	// charon's.
	moved := strings.Replace(strings.Replace(string(text), "  peer:\n", "  other:\n", 1),
		"remote-gw: \""+s.swan.Addr.String()+"\"", "remote-gw: \"192.0.2.254\"", 1)
	if moved == string(text) || !strings.Contains(moved, "192.0.2.254") {
		t.Fatalf("policy not rewritten:\n%s", text)
	}
	if err := os.WriteFile(s.iked.Config, []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := s.iked.Call(control.CmdReload, ""); err != nil || r.Error != "" {
		t.Fatalf("ikectl reload: %v %+v", err, r)
	}
	if sas, ok := waitCharonEmpty(s.charon, 10*time.Second); !ok {
		t.Fatalf("charon still has %+v after iked's reload\niked:\n%s", sas, s.iked.catalogSummary())
	}
	if log := s.charon.Log(); !strings.Contains(log, "received DELETE for IKE_SA") {
		t.Errorf("charon did not log iked's Delete of the IKE SA:\n%s", s.charon.Tail(60))
	}
	if out := s.iked.Output(); !strings.Contains(out, `"msg":"policy reload revokes an ISAKMP SA","conn":"peer","reason":"connection removed"`) {
		t.Errorf("iked did not say why the SA went:\n%s", tail(out, 20))
	}
	if resp, err := s.iked.Call(control.CmdListSAs, ""); err != nil || len(resp.SAs) != 0 || len(resp.Detached) != 0 {
		t.Errorf("iked still lists %+v (detached %+v), %v", resp.SAs, resp.Detached, err)
	}
}
