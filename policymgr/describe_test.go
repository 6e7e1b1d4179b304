package policymgr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// TestCheckRoadWarriorSelectors: `iked -check` says, at each road warrior
// connection's line, what it accepts as the peer's selectors (the limits
// of policymgr.WarriorLimit). Load logs none of it, and connections with a
// fixed remote-gw get none.
func TestCheckRoadWarriorSelectors(t *testing.T) {
	text := base + dedent(`
	connections:
	  rw-any:
	    local-gw: 192.0.2.1
	    ike: {transforms: [ike], psk: "secret"}
	    proposal-list: l
	  rw-per-host:
	    local-gw: 192.0.2.1
	    sa-per-host: true
	    ike: {transforms: [ike], psk: "secret"}
	    proposal-list: l
	  rw-subnet:
	    local-gw: 192.0.2.1
	    local-address: 203.0.113.0/24
	    remote-address: 198.51.100.0/24
	    protocol: tcp
	    remote-port: 443
	    ike: {transforms: [ike], psk: "secret", remote-id: "fqdn:laptop.example.com"}
	    proposal-list: l
	  rw-hosts:
	    local-gw: 192.0.2.1
	    remote-address: 198.51.100.0/24
	    sa-per-host: true
	    ike: {transforms: [ike], psk: "secret"}
	    proposal-list: l
	  fixed:
	    local-gw: 192.0.2.1
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike], psk: "secret"}
	    proposal-list: l
	`)
	path := writePolicy(t, text)
	if _, fs, _ := LoadFindings(path, LoadOptions{}); len(fs) != 0 {
		logFindings(t, fs)
		t.Fatal("Load must not describe connections")
	}
	fs, ok := Check(path, LoadOptions{})
	if !ok || len(fs) != 4 {
		logFindings(t, fs)
		t.Fatalf("check: ok=%v, %d findings, want 4 descriptions", ok, len(fs))
	}
	want := []struct {
		name  string
		level notify.Level
		says  []string
	}{
		{"rw-any", notify.LevelInfo, []string{"only the peer's own address (the one phase 1 ran with", "give remote-address", "any identity"}},
		{"rw-per-host", notify.LevelInfo, []string{"only the peer's own address"}},
		{"rw-subnet", notify.LevelInfo, []string{"198.51.100.0/24 or any part of it", "never one overlapping the local-address 203.0.113.0/24", "protocol tcp port 443", "identity laptop.example.com"}},
		{"rw-hosts", notify.LevelInfo, []string{"single addresses within 198.51.100.0/24"}},
	}
	for i, w := range want {
		f := fs[i]
		line := lineOf(t, text, "  "+w.name+":")
		prefix := fmt.Sprintf(`line %d: connection %q answers any peer gateway (no remote-gw): as remote selectors it accepts `, line, w.name)
		if f.Level != w.level || f.Serious() || f.Line != line || !strings.HasPrefix(f.Text, prefix) {
			t.Errorf("finding %d: %s, want %s at line %d starting %q", i, f, w.level, line, prefix)
		}
		for _, s := range w.says {
			if !strings.Contains(f.Text, s) {
				t.Errorf("finding %d: %q does not say %q", i, f.Text, s)
			}
		}
	}
}

// TestCheckCAWithoutCRL: `iked -check` says at a trusted CA without a crl
// that revocation is not checked; with a crl it says nothing.
func TestCheckCAWithoutCRL(t *testing.T) {
	text := dedent(`
	certificates:
	  root-ca: {file: ca-rsa.pem, trusted: true}
	  ec-ca: {file: ca-ecdsa.pem, trusted: true, crl: ca-ecdsa.crl.pem}
	`)
	path := writePolicy(t, text, "ca-rsa.pem", "ca-ecdsa.pem", "ca-ecdsa.crl.pem")
	fs, ok := Check(path, LoadOptions{})
	if !ok || len(fs) != 1 || fs[0].Level != notify.LevelInfo || fs[0].Line != 2 ||
		fs[0].Text != "line 2: certificate \"root-ca\" has no crl: revocation of the certificates it issues is not checked" {
		logFindings(t, fs)
		t.Fatal("want one info finding at line 2 for root-ca")
	}
}
