package policymgr

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsListEveryKey keeps docs/policy-file.md and the iked.yaml(5)
// source true to the decoder: every key a section accepts has a row in
// the reference's tables and is named in the man page, and every log
// level the decoder takes is documented.
func TestDocsListEveryKey(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ref, man := read("policy-file.md"), read(filepath.Join("man", "iked.yaml.5.md"))
	var keys []string
	keys = append(keys, daemonKeys...)
	for _, nested := range []struct {
		parent string
		keys   []string
	}{{"retransmit", retransmitKeys}, {"dpd", dpdKeys}, {"log", logKeys}, {"metrics", metricsKeys}, {"under-load", underLoadKeys},
		{"xauth", xauthKeys}, {"xauth.radius", radiusKeys}, {"xauth.pam", pamKeys}} {
		for _, k := range nested.keys {
			keys = append(keys, nested.parent+"."+k)
		}
	}
	for _, list := range [][]string{certKeys, transformKeys, connectionKeys, ikeKeys, manualKeys} {
		keys = append(keys, list...)
	}
	for _, k := range keys {
		// daemon retransmit, dpd, log, metrics, under-load and xauth
		// (and xauth's radius and pam) are rows of their own keys.
		if k == "retransmit" || k == "dpd" || k == "log" || k == "metrics" || k == "under-load" ||
			k == "xauth" || k == "xauth.radius" || k == "xauth.pam" {
			if !strings.Contains(ref, "`"+k+"`") {
				t.Errorf("docs/policy-file.md does not mention `%s`", k)
			}
			continue
		}
		if !strings.Contains(ref, "| `"+k+"` |") {
			t.Errorf("docs/policy-file.md has no table row for key %q", k)
		}
		if !strings.Contains(man, "**"+k+"**") {
			t.Errorf("docs/man/iked.yaml.5.md does not name key %q", k)
		}
	}
	for _, s := range topKeys {
		if !strings.Contains(ref, "## "+s+"\n") {
			t.Errorf("docs/policy-file.md has no section %q", s)
		}
	}
	for _, lvl := range []string{"keys", "debug", "info", "notice", "warning", "warn", "error"} {
		if !strings.Contains(ref, "`"+lvl+"`") {
			t.Errorf("log level %q undocumented", lvl)
		}
	}
	for _, lists := range [][]string{ikeCipherOrder, ikeHashOrder, groupOrder, espCipherOrder, hmacOrder, compressionOrder} {
		for _, a := range lists {
			if !strings.Contains(ref, "`"+a+"`") {
				t.Errorf("algorithm %q not in docs/policy-file.md", a)
			}
		}
	}
}

// TestDocsYAMLBlocks decodes every YAML block of the reference and the
// how-tos: a block may be a fragment (it names transforms or files
// defined elsewhere), but it must not hold a key, a value or a shape the
// decoder refuses, so that an example in the docs cannot rot. The
// Aggressive Mode warning is allowed: the Cisco clients' gateway of
// docs/howto-road-warrior.md needs that mode and says why it is weak.
func TestDocsYAMLBlocks(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if len(files) < 4 {
		t.Fatalf("docs: %v", files)
	}
	fragment := regexp.MustCompile(`does not define|has no |needs |psk-file|neither an ike section|no peer address|no such file or directory|/etc/pam.d/[a-z]+ does not exist|is used by no connection|Aggressive Mode with a pre-shared key`)
	blocks := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
			blocks++
			_, findings, err := parse(filepath.Join(t.TempDir(), "doc.yaml"), []byte(m[1]), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range findings {
				if fd.Num != 0 || fragment.MatchString(fd.Text) {
					continue
				}
				t.Errorf("%s, YAML block %d: %s\n%s", filepath.Base(f), i+1, fd.Text, m[1])
			}
		}
	}
	if blocks < 10 {
		t.Errorf("only %d YAML blocks found", blocks)
	}
}
