package pki

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// crlStore loads the RSA CA with the CRL file crl (a path in dir).
func crlStore(t *testing.T, dir, crl string, strict bool) (*Store, []notify.Message) {
	t.Helper()
	return Load([]Item{{Name: "root-ca", File: filepath.Join(dir, "ca-rsa.pem"), Trusted: true,
		CRL: filepath.Join(dir, crl), CRLStrict: strict}}, validClock(t, dir))
}

// expiredWarnings returns the CRL expiry warnings among msgs.
func expiredWarnings(msgs []notify.Message) []notify.Message {
	var out []notify.Message
	for _, m := range msgs {
		if m.Num == 0 && m.Level == notify.LevelWarning && strings.Contains(m.Text, "(nextUpdate)") {
			out = append(out, m)
		}
	}
	return out
}

// TestCRLExpired: a CRL past its nextUpdate (ca-rsa-expired.crl.der, made
// by strongSwan's pki with a one-hour validity) is a warning at load and
// at each verification; without crl-strict it is still used, with it the
// peers its CA certifies are refused.
func TestCRLExpired(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	gw := fqdn("gw.example.com")

	s, msgs := crlStore(t, dir, "ca-rsa-expired.crl.der", false)
	w := expiredWarnings(msgs)
	if len(msgs) != 1 || len(w) != 1 || w[0].Serious() || !strings.Contains(w[0].Text, "`root-ca'") || !strings.Contains(w[0].Text, "expired at") {
		t.Fatalf("load messages %v, want one expiry warning naming `root-ca'", msgs)
	}
	t.Logf("load: %s", w[0].Text)
	peer, vmsgs, err := s.VerifyPeer([][]byte{readDER(t, p("gw-rsa.der"))}, gw)
	if err != nil || peer == nil {
		t.Fatalf("not strict: VerifyPeer: %v", err)
	}
	if len(expiredWarnings(vmsgs)) != 1 {
		t.Errorf("not strict: verification messages %v, want the expiry warning", vmsgs)
	}
	if _, _, err := s.VerifyPeer([][]byte{readDER(t, p("revoked-rsa.pem"))}, fqdn("revoked.example.com")); !errors.Is(err, ErrRevoked) {
		t.Errorf("not strict: revoked peer: %v, want ErrRevoked (the expired CRL is still used)", err)
	}

	s, msgs = crlStore(t, dir, "ca-rsa-expired.crl.der", true)
	if w := expiredWarnings(msgs); len(w) != 1 || !strings.Contains(w[0].Text, "refused") {
		t.Fatalf("strict: load messages %v", msgs)
	}
	if _, _, err := s.VerifyPeer([][]byte{readDER(t, p("gw-rsa.der"))}, gw); !errors.Is(err, ErrCRLExpired) {
		t.Fatalf("strict: VerifyPeer: %v, want ErrCRLExpired", err)
	} else {
		t.Logf("strict: %v", err)
	}

	// A current CRL gives no warning, strict or not.
	if _, msgs := crlStore(t, dir, "ca-rsa.crl.der", true); len(msgs) != 0 {
		t.Errorf("current CRL: %v", msgs)
	}
}

// replaceFile puts the content of from at to the way CA tooling publishes
// a CRL: a new file renamed over the old one.
func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// TestCRLRereadWhenChanged: a CRL file replaced after Load takes effect at
// the next verification, without a reload; a replacement that does not
// decode is reported and the CRL in force stays.
func TestCRLRereadWhenChanged(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	gwDER := [][]byte{readDER(t, p("gw-rsa.der"))}
	gw := fqdn("gw.example.com")
	crl := p("current.crl")
	replaceFile(t, p("ca-rsa.crl.der"), crl)
	s, msgs := crlStore(t, dir, "current.crl", false)
	if len(msgs) != 0 {
		t.Fatalf("load: %v", msgs)
	}
	if _, _, err := s.VerifyPeer(gwDER, gw); err != nil {
		t.Fatalf("before the new CRL: %v", err)
	}

	replaceFile(t, p("ca-rsa-gw.crl.der"), crl) // also revokes gw-rsa
	_, m, err := s.VerifyPeer(gwDER, gw)
	if !errors.Is(err, ErrRevoked) || len(m) != 0 {
		t.Fatalf("after the new CRL: %v %v, want ErrRevoked", err, m)
	}

	replaceFile(t, p("crl-garbage.txt"), crl)
	_, m, err = s.VerifyPeer(gwDER, gw)
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("after a broken CRL: %v, want ErrRevoked from the CRL still in force", err)
	}
	if len(m) != 2 || m[0].Num != 40 || m[1].Num != 14 {
		t.Errorf("after a broken CRL: messages %v, want 40 and 14", m)
	}
	// Reported once: the broken file is not read again until it changes.
	if _, m, _ = s.VerifyPeer(gwDER, gw); len(m) != 0 {
		t.Errorf("the same broken CRL again: %v", m)
	}
}
