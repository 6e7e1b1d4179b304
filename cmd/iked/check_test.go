package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/iked/iked/policymgr"
)

// TestCheckJSON: `iked -check -json` prints one JSON document a CI
// pipeline can read: the catalog number, line and seriousness of each
// finding, ok false and exit 1 for a refused policy; ok true, exit 0 and
// the warnings for a policy that loads. -json without -check is a usage
// error.
func TestCheckJSON(t *testing.T) {
	iked, _ := binaries(t)
	dir := t.TempDir()
	run := func(body string, wantExit int) policymgr.CheckReport {
		t.Helper()
		p := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(iked, "-check", "-json", "-config", p).Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Errorf("exit %d, want %d:\n%s", code, wantExit, out)
		}
		var r policymgr.CheckReport
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r.File != p {
			t.Errorf("file %q, want %q", r.File, p)
		}
		return r
	}

	bad := run("connections:\n  x:\n    local-address: 10.0.0.0/33\n", 1)
	if bad.OK || len(bad.Findings) < 2 {
		t.Fatalf("bad policy: %+v", bad)
	}
	var decode policymgr.JSONFinding
	for _, f := range bad.Findings {
		if f.Catalog == 9 {
			decode = f
		}
	}
	if decode.Line != 3 || !decode.Serious || decode.Level != "error" ||
		decode.Text != "SPD: Could not decode local-address of connection `x'" {
		t.Errorf("message 9: %+v in %+v", decode, bad.Findings)
	}
	last := bad.Findings[len(bad.Findings)-1]
	if last.Catalog != 21 || last.Text != "SPD: Policy not instantiated due to errors." {
		t.Errorf("last finding %+v", last)
	}

	policy := `transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals: {p: [esp]}
proposal-lists: {l: [p]}
connections:
  c:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    protocol: icmp
    remote-port: 80
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    ike: {transforms: [ike], psk: "correct horse battery"}
    proposal-list: l
`
	warn := run(policy, 0)
	if !warn.OK || len(warn.Findings) != 1 {
		t.Fatalf("policy with a warning: %+v", warn)
	}
	if f := warn.Findings[0]; f.Catalog != 22 || f.Serious || f.Level != "warning" || f.Line != 11 {
		t.Errorf("warning %+v", f)
	}

	if err := exec.Command(iked, "-json").Run(); err == nil {
		t.Error("-json without -check accepted")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("-json without -check: %v, want exit 2", err)
	}
}
