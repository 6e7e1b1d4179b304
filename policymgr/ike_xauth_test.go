package policymgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/isakmp"
)

// TestXAuthKeys: ike.xauth and the client's user and password file load
// into the model; mistakes name the key at its line; a password file
// that group or others may read is refused as a psk-file is.
func TestXAuthKeys(t *testing.T) {
	conn := func(ike string) string {
		return base + dedent(`
		connections:
		  c:
		    remote-gw: 192.0.2.2
		    ike: {transforms: [ike], psk: "k", `+ike+`}
		    proposal-list: l
		`)
	}
	for _, tc := range []struct{ ike, want string }{
		{"xauth: maybe", `ike xauth "maybe": it must be server or client`},
		{"xauth: server", "ike xauth server: daemon.xauth names no backend"},
		{"xauth: server, xauth-user: alice", "xauth-user and xauth-password-file are a client's"},
		{"xauth: client, xauth-user: alice", "xauth client needs xauth-user and xauth-password-file"},
		{"xauth: client, xauth-user: alice, xauth-password-file: open.pass", "xauth-password-file"},
	} {
		path := writePolicy(t, conn(tc.ike))
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "open.pass"), []byte("pw\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p, fs, _ := LoadFindings(path, LoadOptions{})
		if p != nil || len(fs) == 0 || !strings.Contains(fs[0].Text, tc.want) {
			logFindings(t, fs)
			t.Errorf("%s: want a finding %q", tc.ike, tc.want)
		}
		if tc.want == "xauth-password-file" && !strings.Contains(fs[0].Text, "mode 0644") {
			t.Errorf("open password file: %s", fs[0].Text)
		}
	}
	path := writePolicy(t, conn("xauth: client, xauth-user: alice, xauth-password-file: alice.pass"))
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "alice.pass"), []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, fs, _ := LoadFindings(path, LoadOptions{})
	if p == nil {
		logFindings(t, fs)
		t.Fatal("refused")
	}
	c, _ := p.Connection("c")
	if c.IKE.XAuth != XAuthClient || c.IKE.XAuthUser != "alice" || string(c.IKE.XAuthPassword) != "correct horse" ||
		c.IKE.AuthMethod != isakmp.AuthPSK {
		t.Errorf("model: %v %q %q %v", c.IKE.XAuth, c.IKE.XAuthUser, c.IKE.XAuthPassword, c.IKE.AuthMethod)
	}
}
