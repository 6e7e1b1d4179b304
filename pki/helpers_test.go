package pki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testDir copies testdata into a fresh folder with the modes the daemon
// expects: git keeps no modes but the executable bit, so key files are
// made 0600 here, everything else 0644.
func testDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if isKeyFile(e.Name()) {
			mode = 0o600
		}
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode passes the umask
			t.Fatal(err)
		}
	}
	return dir
}

func isKeyFile(name string) bool {
	return strings.HasSuffix(name, ".key") || strings.HasPrefix(name, "key-") ||
		strings.Contains(name, ".sec1.") || strings.Contains(name, ".pkcs1.") || strings.Contains(name, ".pkcs8.")
}

// readCert loads a test certificate (PEM or DER).
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readDER returns the DER of a test certificate, as a CERT payload holds it.
func readDER(t *testing.T, path string) []byte {
	return readCert(t, path).Raw
}

// clockAt is a fixed clock. The test data is made with 20-year validity
// from the day make.sh ran, so tests place their clock relative to the
// certificates rather than at an absolute date.
func clockAt(tm time.Time) func() time.Time { return func() time.Time { return tm } }

// validClock is a day after the gw certificate became valid: inside every
// validity period of the test data.
func validClock(t *testing.T, dir string) func() time.Time {
	return clockAt(readCert(t, filepath.Join(dir, "gw-rsa.pem")).NotBefore.Add(24 * time.Hour))
}
