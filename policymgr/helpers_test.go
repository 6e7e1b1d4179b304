package policymgr

import (
	"io"
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
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
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
