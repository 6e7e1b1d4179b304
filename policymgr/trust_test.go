package policymgr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

// testClock is a day after the pki test data's certificates start (they
// were all made within seconds; see pki/testdata/make.sh).
func testClock(t *testing.T) func() time.Time {
	t.Helper()
	store, _ := pki.Load([]pki.Item{{Name: "gw", File: filepath.Join(pkiTestdata, "gw-rsa.pem")}}, nil)
	c, ok := store.Cert("gw")
	if !ok {
		t.Fatal("gw-rsa.pem does not load")
	}
	at := c.X509.NotBefore.Add(24 * time.Hour)
	return func() time.Time { return at }
}

// certPolicy is a road warrior gateway trusting both test CAs, its
// connection limited to one of them by ike.ca.
func certPolicy(ca string) string {
	return base + dedent(fmt.Sprintf(`
	certificates:
	  root-ca: {file: ca-rsa.pem, trusted: true, crl: ca-rsa.crl.der}
	  ec-ca: {file: ca-ecdsa.pem, trusted: true, crl: ca-ecdsa.crl.pem}
	  gw: {file: gw-rsa.pem, private-key: gw-rsa.pkcs8.pem}
	connections:
	  rw:
	    local-gw: 192.0.2.1
	    sa-per-host: true
	    ike: {transforms: [ike], certificate: gw, %s}
	    proposal-list: l
	`, ca))
}

var certFiles = []string{"ca-rsa.pem", "ca-rsa.crl.der", "ca-ecdsa.pem", "ca-ecdsa.crl.pem", "gw-rsa.pem", "gw-rsa.pkcs8.pem"}

// TestConnectionCA: ike.ca names a trusted certificates item; the
// connection keeps it (and a change of it changes the connection), and
// the store verifies the peer against that CA alone.
func TestConnectionCA(t *testing.T) {
	now := testClock(t)
	p, fs, _ := LoadFindings(writePolicy(t, certPolicy("ca: ec-ca"), certFiles...), LoadOptions{Now: now})
	if p == nil || len(fs) != 0 {
		logFindings(t, fs)
		t.Fatal("ca: ec-ca must load")
	}
	rw, _ := p.Connection("rw")
	if rw.IKE.CA != "ec-ca" {
		t.Fatalf("CA %q", rw.IKE.CA)
	}
	// gw-rsa is certified by root-ca, not ec-ca: refused under rw's ca.
	der, _ := os.ReadFile(filepath.Join(pkiTestdata, "gw-rsa.der"))
	id := pki.ID{Type: isakmp.IDFQDN, Data: []byte("gw.example.com")}
	if _, _, err := p.Certs.VerifyPeerCA([][]byte{der}, id, rw.IKE.CA); !errors.Is(err, pki.ErrUntrusted) {
		t.Errorf("gw-rsa under ec-ca: %v, want ErrUntrusted", err)
	}
	if _, _, err := p.Certs.VerifyPeerCA([][]byte{der}, id, ""); err != nil {
		t.Errorf("gw-rsa under any CA: %v", err)
	}

	p2, _, _ := LoadFindings(writePolicy(t, certPolicy("ca: root-ca"), certFiles...), LoadOptions{Now: now})
	if d := DiffPolicies(p, p2); len(d.Changed) != 1 || d.Changed[0] != "rw" {
		t.Errorf("changing ca: diff %+v, want rw changed", d)
	}

	for _, tc := range []struct{ ca, says string }{
		{"ca: nobody", `names certificate "nobody", which the certificates section does not define`},
		{"ca: gw", `ca "gw": the certificate is not a trusted CA`},
	} {
		text := certPolicy(tc.ca)
		p, fs, _ := LoadFindings(writePolicy(t, text, certFiles...), LoadOptions{Now: now})
		if p != nil || len(fs) != 2 || fs[0].Line != lineOf(t, text, tc.ca) || !strings.Contains(fs[0].Text, tc.says) {
			logFindings(t, fs)
			t.Errorf("%s: want a refusal at its line saying %q", tc.ca, tc.says)
		}
	}
	text := base + dedent(`
	certificates:
	  root-ca: {file: ca-rsa.pem, trusted: true, crl: ca-rsa.crl.der}
	connections:
	  c:
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike], psk: "secret", ca: root-ca}
	    proposal-list: l
	`)
	if p, fs, _ := LoadFindings(writePolicy(t, text, certFiles...), LoadOptions{Now: now}); p != nil || !strings.Contains(fs[0].Text, "it needs auth certificate") {
		logFindings(t, fs)
		t.Error("ca with auth psk must be refused")
	}
}

// TestCRLExpiredFinding: a CRL past its nextUpdate loads with a warning at
// its certificate's line (saying whether crl-strict refuses the peers);
// crl-strict without a crl is refused.
func TestCRLExpiredFinding(t *testing.T) {
	now := testClock(t)
	for _, strict := range []bool{false, true} {
		text := dedent(fmt.Sprintf(`
		certificates:
		  root-ca:
		    file: ca-rsa.pem
		    trusted: true
		    crl: ca-rsa-expired.crl.der
		    crl-strict: %v
		`, strict))
		p, fs, _ := LoadFindings(writePolicy(t, text, "ca-rsa.pem", "ca-rsa-expired.crl.der"), LoadOptions{Now: now})
		says := "it is still used"
		if strict {
			says = "peers it certifies are refused"
		}
		if p == nil || len(fs) != 1 || fs[0].Level != notify.LevelWarning || fs[0].Line != 2 ||
			!strings.HasPrefix(fs[0].Text, "line 2: the CRL ") || !strings.Contains(fs[0].Text, "expired at") || !strings.Contains(fs[0].Text, says) {
			logFindings(t, fs)
			t.Errorf("strict=%v: want a warning at line 2 saying %q", strict, says)
		}
	}
	text := dedent(`
	certificates:
	  root-ca: {file: ca-rsa.pem, trusted: true, crl-strict: true}
	`)
	if p, fs, _ := LoadFindings(writePolicy(t, text, "ca-rsa.pem"), LoadOptions{Now: now}); p != nil || !strings.Contains(fs[0].Text, "has crl-strict but no crl") {
		logFindings(t, fs)
		t.Error("crl-strict without crl must be refused")
	}
}

// TestReloadRereadsCRL: a reload reads the CRLs again, so a certificate
// the new CRL revokes is refused under the new policy.
func TestReloadRereadsCRL(t *testing.T) {
	now := testClock(t)
	path := writePolicy(t, certPolicy("auth: certificate"), certFiles...)
	crl := filepath.Join(filepath.Dir(path), "ca-rsa.crl.der")
	m := NewManager(path, LoadOptions{Now: now})
	if fs, ok := m.Start(); !ok {
		logFindings(t, fs)
		t.Fatal("start refused")
	}
	der, _ := os.ReadFile(filepath.Join(pkiTestdata, "gw-rsa.der"))
	id := pki.ID{Type: isakmp.IDFQDN, Data: []byte("gw.example.com")}
	if _, _, err := m.Current().Certs.VerifyPeer([][]byte{der}, id); err != nil {
		t.Fatalf("before: %v", err)
	}
	copyFile(t, filepath.Join(pkiTestdata, "ca-rsa-gw.crl.der"), crl+".new", 0o644)
	if err := os.Rename(crl+".new", crl); err != nil {
		t.Fatal(err)
	}
	if r := m.Reload(); !r.Applied {
		logFindings(t, r.Findings)
		t.Fatal("reload refused")
	}
	if _, _, err := m.Current().Certs.VerifyPeer([][]byte{der}, id); !errors.Is(err, pki.ErrRevoked) {
		t.Errorf("after the reload: %v, want ErrRevoked", err)
	}
}
