// Package examples holds iked's commented example policies; this test
// loads every one of them.
package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// copyExamples copies this folder to a temporary one and makes the
// private keys, PSK files, the files in secrets/ and policy files (some
// hold a psk) readable by
// their owner only, as a user must after a checkout (git keeps no modes
// but the executable bit).
func copyExamples(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		to := filepath.Join(dst, p)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".key") || strings.HasSuffix(p, ".psk") || strings.HasSuffix(p, ".yaml") || strings.HasPrefix(p, "secrets/") {
			mode = 0o600
		}
		return os.WriteFile(to, b, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestExamplesLoad(t *testing.T) {
	dir := copyExamples(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) < 5 {
		t.Fatalf("%d example policies, want at least 5", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			findings, ok := policymgr.Check(f, policymgr.LoadOptions{})
			for _, fd := range findings {
				if fd.Level == notify.LevelInfo {
					t.Logf("%s", fd) // what -check describes
					continue
				}
				t.Errorf("%s", fd)
			}
			if !ok {
				t.Fatal("not instantiated")
			}
		})
	}
}

// TestExampleModels checks that the examples mean what their comments say.
func TestExampleModels(t *testing.T) {
	dir := copyExamples(t)
	load := func(name string) *policymgr.Policy {
		t.Helper()
		p, fs, err := policymgr.LoadFindings(filepath.Join(dir, name), policymgr.LoadOptions{})
		if err != nil || p == nil {
			t.Fatalf("%s: %v %v", name, err, fs)
		}
		return p
	}
	rw, _ := load("road-warrior-certs.yaml").Connection("road-warriors")
	if !rw.RoadWarrior() || !rw.SAPerHost || rw.IKE.AuthMethod != isakmp.AuthRSASig || rw.IKE.CA != "example-ca" ||
		rw.IKE.LocalID.Text != "C=FI, O=Example, CN=vpn.example.com" || rw.IKE.Cert == nil || rw.IKE.Cert.Key == nil {
		t.Errorf("road warrior: rw=%v auth=%v id=%q", rw.RoadWarrior(), rw.IKE.AuthMethod, rw.IKE.LocalID.Text)
	}
	tr, _ := load("transport-host-to-host.yaml").Connection("app-to-db")
	if tr.Mode() != isakmp.EncapTransport || tr.Remote.Port != 5432 || tr.Remote.Proto != 6 || !strings.HasPrefix(string(tr.IKE.PSK.Bytes()), "an example key") {
		t.Errorf("transport: %v %v", tr.Mode(), tr.Remote)
	}
	mk, _ := load("manual-keys.yaml").Connection("legacy-tunnel")
	if mk.Manual == nil || len(mk.Manual.SAs) != 2 || mk.Manual.SAs[0].Protocol != isakmp.ProtoAH || mk.Manual.SAs[1].SPIOut != 0x2003 {
		t.Errorf("manual: %+v", mk.Manual)
	}
	if x := load("xauth-backends.yaml").Daemon.XAuth; x.Backend != policymgr.XAuthFile || filepath.Base(x.UsersFile) != "xauth-users" {
		t.Errorf("xauth: %+v", x)
	}
	s2s, _ := load("site-to-site-psk.yaml").Connection("branch")
	if len(s2s.IKE.Transforms) != 8 || len(s2s.ProposalList.Proposals) != 3 {
		t.Errorf("site to site: %d transforms, %d proposals", len(s2s.IKE.Transforms), len(s2s.ProposalList.Proposals))
	}
}
