package policymgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// pkiTestdata is the certificate manager's test data, made with openssl
// by pki/testdata/make.sh.
const pkiTestdata = "../pki/testdata"

// writePolicy writes text as iked.yaml in a fresh folder, beside copies of
// the pki test files it names (keys made readable by their owner only, as
// git does not keep file modes), and returns the file's path.
func writePolicy(t *testing.T, text string, pkiFiles ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range pkiFiles {
		copyFile(t, filepath.Join(pkiTestdata, f), filepath.Join(dir, f), 0o600)
	}
	path := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// dedent strips the common leading tabs of a test's inline YAML, which
// is written indented with tabs in Go source and spaces inside.
func dedent(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "\n")
}

func logFindings(t *testing.T, fs []Finding) {
	t.Helper()
	for _, f := range fs {
		t.Logf("  %d %s", f.Num, f)
	}
}

var txt21 = notify.SPDNotInstantiated().Text

// base is the part of a test policy that its connections refer to: the
// transforms ike and esp, proposal p and list l, and the manually keyed
// ones (pm..., lm...) of the SPD messages' tests.
const base = `
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
  esp-manual: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}
  esp-two: {protocol: esp, ciphers: [aes128, aes256], hmacs: [sha1]}
  ah-manual: {protocol: ah, hmacs: [sha256]}
  ah-two: {protocol: ah, hmacs: [sha256, sha1]}
  comp: {protocol: ipcomp, compression: [deflate]}
  comp-two: {protocol: ipcomp, compression: [deflate, lzs]}
proposals:
  p: [esp]
  pm: [esp-manual]
  pm-two: [esp-two]
  pm-ah-two: [ah-two]
  pm-ah-esp: [ah-manual, esp-manual]
  pm-comp-two: [esp-manual, comp-two]
proposal-lists:
  l: [p]
  lm: [pm]
  lm-two-proposals: [pm, p]
  lm-two-ciphers: [pm-two]
  lm-ah-two: [pm-ah-two]
  lm-ah-esp: [pm-ah-esp]
  lm-comp-two: [pm-comp-two]
`
