package policymgr

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to the decoder: it must never panic,
// and a refused policy always ends with message 21.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, e := range examples {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base + "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" + goodKeys))
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"))
	f.Add([]byte("connections: {c: {local-address: 1.2.3.4-1.2.3.3, ike: {local-id: 'dn:CN='}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, fs, err := parse("fuzz.yaml", data, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p == nil && (len(fs) == 0 || fs[len(fs)-1].Num != 21) {
			t.Fatalf("refused without 21: %v", fs)
		}
		if p != nil && anySerious(fs) {
			t.Fatalf("instantiated with a serious finding: %v", fs)
		}
	})
}

// TestSecretsNotPrinted checks that printing a connection in any of fmt's
// forms, or encoding it as JSON, shows no key material.
func TestSecretsNotPrinted(t *testing.T) {
	p := mustLoad(t, base+"connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n"+goodKeys+
		"  c:\n    remote-gw: 192.0.2.2\n    ike: {transforms: [ike], psk: \"hunter2-psk\"}\n    proposal-list: l\n")
	m, _ := p.Connection("m")
	c, _ := p.Connection("c")
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", *m.Manual, *m.Manual, *m.Manual), fmt.Sprintf("%v %+v %#v", *c.IKE, *c.IKE, *c.IKE), fmt.Sprintf("%d %x %X", c.IKE.PSK, c.IKE.PSK, c.IKE.PSK), string(mj), string(cj)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "aHVudGVyMi1wc2s") || strings.Contains(strings.ToLower(s), "00112233") ||
			strings.Contains(s, "ABEiM") || strings.Contains(s, "[0 17 34") || strings.Contains(s, "[0,17,34") ||
			strings.Contains(s, "[104 117") || strings.Contains(s, "68756e746572") || strings.Contains(s, "68756E746572") {
			t.Errorf("secret printed: %s", s)
		}
	}
}
