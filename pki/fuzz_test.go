package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/iked/iked/isakmp"
)

// seedCerts adds the DER of every test certificate to a fuzz corpus.
func seedCerts(f *testing.F, add func(der []byte)) {
	files, _ := filepath.Glob("testdata/*.pem")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		ders, _ := pemBlocks(b, "CERTIFICATE")
		for _, d := range ders {
			add(d)
		}
	}
}

// FuzzDecodeCert: certificates come from CERT payloads; decoding them and
// reading their subjectAltName by hand must never panic.
func FuzzDecodeCert(f *testing.F) {
	seedCerts(f, func(der []byte) { f.Add(der) })
	f.Fuzz(func(t *testing.T, der []byte) {
		c, msgs, code := decodeCert(der)
		if c == nil && (len(msgs) == 0 || code == 0) {
			t.Fatal("refused without a message")
		}
		parseAltNames(der)
	})
}

// FuzzFormatDN: DNs come from ID payloads.
func FuzzFormatDN(f *testing.F) {
	seedCerts(f, func(der []byte) {
		if c, _, _ := decodeCert(der); c != nil {
			f.Add(c.RawSubject)
		}
	})
	f.Fuzz(func(t *testing.T, der []byte) {
		if _, err := FormatDN(der); err == nil && !MatchDN(der, der) {
			t.Fatal("a DN that prints does not match itself")
		}
		MatchID(readCertF(t), ID{isakmp.IDDERASN1DN, der})
	})
}

// FuzzParseDN: DN text comes from the policy file.
func FuzzParseDN(f *testing.F) {
	f.Add("C=FI, O=Example, CN=gw")
	f.Add(`/C=FI/O=a\/b`)
	f.Add("1.2.3=x, E=a@b")
	f.Fuzz(func(t *testing.T, s string) {
		der, err := ParseDN(s)
		if err != nil {
			return
		}
		if _, err := FormatDN(der); err != nil {
			t.Fatalf("ParseDN(%q) made a DN FormatDN refuses: %v", s, err)
		}
		if !MatchDN(der, der) {
			t.Fatal("a parsed DN does not match itself")
		}
	})
}

// FuzzVerifyPeer: what a peer sends in CERT and ID payloads.
func FuzzVerifyPeer(f *testing.F) {
	seedCerts(f, func(der []byte) { f.Add(der, uint8(2), []byte("gw.example.com")) })
	s, msgs := Load([]Item{
		{Name: "root-ca", File: "testdata/ca-rsa.pem", Trusted: true, CRL: "testdata/ca-rsa.crl.der"},
		{Name: "old-ca", File: "testdata/ca-nobc.pem", Trusted: true},
	}, nil)
	if len(msgs) != 1 {
		f.Fatal(msgs)
	}
	f.Fuzz(func(t *testing.T, der []byte, typ uint8, id []byte) {
		s.VerifyPeer([][]byte{der, der}, ID{isakmp.IDType(typ), id})
		_ = ID{isakmp.IDType(typ), id}.String()
	})
}

var fuzzCert []byte

func readCertF(t *testing.T) *x509.Certificate {
	if fuzzCert == nil {
		fuzzCert = readDER(t, "testdata/gw-rsa.pem")
	}
	c, _, _ := decodeCert(fuzzCert)
	return c
}
