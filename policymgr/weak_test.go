package policymgr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// lineOf returns the 1-based line of the first line of text holding s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the policy", s)
	return 0
}

// findingWith returns the findings whose text holds s.
func findingWith(fs []Finding, s string) []Finding {
	var out []Finding
	for _, f := range fs {
		if strings.Contains(f.Text, s) {
			out = append(out, f)
		}
	}
	return out
}

// TestWeakAlgorithmsWarn: every weak algorithm loads, with a warning at
// the line of the list (or key) naming it; strong ones alone give none.
func TestWeakAlgorithmsWarn(t *testing.T) {
	text := dedent(`
	transforms:
	  old-ike:
	    protocol: isakmp
	    ciphers: [aes128, des, 3des]
	    hashes: [sha256, md5]
	    groups: [modp2048, modp768, modp1024]
	  old-esp:
	    protocol: esp
	    ciphers: ["null", aes128]
	    hmacs: [md5, sha256]
	  old-ah: {protocol: ah, hmacs: [md5]}
	  good-ike: {protocol: isakmp, ciphers: [aes256], hashes: [sha256], groups: [ecp256]}
	proposals:
	  p: [old-ah, old-esp]
	proposal-lists:
	  l: [p]
	connections:
	  old:
	    remote-gw: 192.0.2.2
	    ike: {transforms: [old-ike, good-ike], auth: psk, psk: "secret"}
	    proposal-list: l
	    pfs: modp1024
	`)
	p, fs, err := LoadFindings(writePolicy(t, text), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatalf("a policy with weak algorithms must load: %v", err)
	}
	want := []struct {
		line  int
		names []string
	}{
		{4, []string{`transform "old-ike" ciphers`, "des (56-bit key)", "3des (64-bit block)"}},
		{5, []string{`transform "old-ike" hashes`, "md5 (MD5)"}},
		{6, []string{`transform "old-ike" groups`, "modp768 (768-bit group)", "modp1024 (1024-bit group)"}},
		{9, []string{`transform "old-esp" ciphers`, "null (no encryption)"}},
		{10, []string{`transform "old-esp" hmacs`, "md5"}},
		{11, []string{`transform "old-ah" hmacs`, "md5"}},
		{22, []string{`connection "old" pfs`, "modp1024"}},
	}
	if len(fs) != len(want) {
		logFindings(t, fs)
		t.Fatalf("%d findings, want %d warnings", len(fs), len(want))
	}
	for i, w := range want {
		f := fs[i]
		if f.Level != notify.LevelWarning || f.Serious() || f.Line != w.line || !strings.HasPrefix(f.Text, "line ") {
			t.Errorf("finding %d: %s (line %d), want a warning at line %d", i, f, f.Line, w.line)
		}
		for _, n := range w.names {
			if !strings.Contains(f.Text, n) {
				t.Errorf("finding %d: %q does not name %q", i, f.Text, n)
			}
		}
	}
	if strings.Contains(fs[0].Text, "aes128") || strings.Contains(fs[2].Text, "modp2048 (") {
		t.Errorf("strong algorithms named as weak: %s / %s", fs[0].Text, fs[2].Text)
	}
}

// TestAggressivePSKWarns: Aggressive Mode with a pre-shared key loads with
// a warning at its mode key, in Load and in `iked -check`; Aggressive Mode
// with a certificate and Main Mode with a key give none.
func TestAggressivePSKWarns(t *testing.T) {
	text := base + dedent(`
	certificates:
	  root-ca: {file: ca-rsa.pem, trusted: true, crl: ca-rsa.crl.der}
	  gw: {file: gw-rsa.pem, private-key: gw-rsa.pkcs8.pem}
	connections:
	  am-psk:
	    remote-gw: 192.0.2.2
	    ike:
	      mode: aggressive
	      transforms: [ike]
	      psk: "secret"
	    proposal-list: l
	  am-cert:
	    remote-gw: 192.0.2.3
	    ike: {mode: aggressive, transforms: [ike], certificate: gw}
	    proposal-list: l
	  mm-psk:
	    remote-gw: 192.0.2.4
	    ike: {mode: main, transforms: [ike], psk: "secret"}
	    proposal-list: l
	`)
	path := writePolicy(t, text, "ca-rsa.pem", "ca-rsa.crl.der", "gw-rsa.pem", "gw-rsa.pkcs8.pem")
	p, fs, _ := LoadFindings(path, LoadOptions{})
	cfs, ok := Check(path, LoadOptions{})
	if p == nil || !ok {
		logFindings(t, cfs)
		t.Fatal("Aggressive Mode with a pre-shared key must load")
	}
	for what, fs := range map[string][]Finding{"load": fs, "check": cfs} {
		am := findingWith(fs, "Aggressive Mode with a pre-shared key")
		line := lineOf(t, text, "mode: aggressive")
		if len(fs) != 1 || len(am) != 1 || am[0].Level != notify.LevelWarning || am[0].Line != line ||
			!strings.HasPrefix(am[0].Text, fmt.Sprintf(`line %d: connection "am-psk" ike:`, line)) {
			logFindings(t, fs)
			t.Errorf("%s: want one warning at line %d for am-psk", what, line)
		}
	}
}
