package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// PKI is a CA and end-entity certificates made by strongSwan's own `pki`
// tool, so certificate tests use what strongSwan users make rather than what
// iked's code makes. All files are PEM.
type PKI struct {
	Dir    string
	CACert string
	CAKey  string
	Certs  map[string]string // name -> certificate, subjectAltName DNS:name
	Keys   map[string]string // name -> private key
}

// MakePKI creates, in a temporary folder, a CA and one certificate per name
// (DN "C=CH, O=iked test, CN=name", subjectAltName name), with keys of
// keyType "rsa" (size bits) or "ecdsa" (size 256/384/521).
func MakePKI(t testing.TB, keyType string, size int, names ...string) *PKI {
	t.Helper()
	RequireRoot(t, PKIPath)
	p := &PKI{Dir: t.TempDir(), Certs: map[string]string{}, Keys: map[string]string{}}
	p.CAKey = filepath.Join(p.Dir, "ca-key.pem")
	p.CACert = filepath.Join(p.Dir, "ca-cert.pem")
	sz := strconv.Itoa(size)
	mustPKI(t, p.CAKey, "", "--gen", "--type", keyType, "--size", sz, "--outform", "pem")
	mustPKI(t, p.CACert, "", "--self", "--ca", "--lifetime", "3650", "--in", p.CAKey, "--type", keyType,
		"--dn", "C=CH, O=iked test, CN=iked test CA", "--outform", "pem")
	for _, n := range names {
		p.Certs[n], p.Keys[n] = issuePKI(t, p.Dir, keyType, sz, p.CACert, p.CAKey, n)
	}
	return p
}

// issuePKI makes a key and an end-entity certificate for name (DN
// "C=CH, O=iked test, CN=name", subjectAltName name) signed by caCert's
// key, in dir, and returns the certificate's and the key's paths.
func issuePKI(t testing.TB, dir, keyType, size, caCert, caKey, name string) (cert, key string) {
	t.Helper()
	key = filepath.Join(dir, name+"-key.pem")
	cert = filepath.Join(dir, name+"-cert.pem")
	pub := filepath.Join(dir, name+"-pub.pem")
	mustPKI(t, key, "", "--gen", "--type", keyType, "--size", size, "--outform", "pem")
	mustPKI(t, pub, "", "--pub", "--in", key, "--type", keyType, "--outform", "pem")
	mustPKI(t, cert, pub, "--issue", "--lifetime", "3650", "--cacert", caCert, "--cakey", caKey,
		"--dn", "C=CH, O=iked test, CN="+name, "--san", name, "--outform", "pem")
	return cert, key
}

// mustPKI runs pki with args, stdin from the file in (if any), and writes
// its output to out.
func mustPKI(t testing.TB, out, in string, args ...string) {
	t.Helper()
	cmd := exec.Command(PKIPath, args...)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil || len(b) == 0 {
		t.Fatalf("interop: pki %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(fmt.Errorf("interop: %w", err))
	}
}

// ChainPKI is MakePKI with an intermediate CA between the root and the end
// entities: IntCert (and IntKey) is signed by CACert and signs every
// certificate in Certs, so a peer that sends its chain sends two
// certificates and its peer trusts the root alone.
type ChainPKI struct {
	PKI
	IntCert, IntKey string
}

// MakeChainPKI creates, with strongSwan's pki, a root CA, an intermediate
// CA and one end-entity certificate per name issued by the intermediate
// (DN "C=CH, O=iked test, CN=name", subjectAltName name), all with keys of
// keyType and size as for MakePKI.
func MakeChainPKI(t testing.TB, keyType string, size int, names ...string) *ChainPKI {
	t.Helper()
	root := MakePKI(t, keyType, size)
	p := &ChainPKI{PKI: *root}
	sz := strconv.Itoa(size)
	p.IntKey = filepath.Join(p.Dir, "int-key.pem")
	p.IntCert = filepath.Join(p.Dir, "int-cert.pem")
	pub := filepath.Join(p.Dir, "int-pub.pem")
	mustPKI(t, p.IntKey, "", "--gen", "--type", keyType, "--size", sz, "--outform", "pem")
	mustPKI(t, pub, "", "--pub", "--in", p.IntKey, "--type", keyType, "--outform", "pem")
	mustPKI(t, p.IntCert, pub, "--issue", "--ca", "--lifetime", "3650", "--cacert", p.CACert, "--cakey", p.CAKey,
		"--dn", "C=CH, O=iked test, CN=iked test intermediate CA", "--outform", "pem")
	for _, n := range names {
		p.Certs[n], p.Keys[n] = issuePKI(t, p.Dir, keyType, sz, p.IntCert, p.IntKey, n)
	}
	return p
}
