package examples

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestHowtosUseRealExamples: each how-to in docs/ names the example policy
// it is built on, and that file is here (TestExamplesLoad and make
// check-examples load every one of them), so a how-to cannot drift into a
// policy iked refuses without a test noticing.
func TestHowtosUseRealExamples(t *testing.T) {
	want := map[string]string{
		"howto-site-to-site-psk.md": "site-to-site-psk.yaml",
		"howto-certificates.md":     "site-to-site-certs.yaml",
		"howto-road-warrior.md":     "road-warrior-certs.yaml",
		"howto-l2tp.md":             "l2tp-gateway.yaml",
	}
	ref := regexp.MustCompile("`examples/([a-z0-9-]+\\.yaml)`")
	for doc, example := range want {
		b, err := os.ReadFile(filepath.Join("..", "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			if _, err := os.Stat(m[1]); err != nil {
				t.Errorf("docs/%s names examples/%s, which does not exist", doc, m[1])
			}
			found = found || m[1] == example
		}
		if !found {
			t.Errorf("docs/%s does not name its example examples/%s", doc, example)
		}
	}
}
