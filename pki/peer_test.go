package pki

import (
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// peerStore is the store of a gateway that trusts the RSA CA (with its
// CRL), the ECDSA CA (with its CRL) and the CA without Basic Constraints.
func peerStore(t *testing.T, dir string, now func() time.Time) *Store {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	s, msgs := Load([]Item{
		{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("ca-rsa.crl.der")},
		{Name: "ec-ca", File: p("ca-ecdsa.pem"), Trusted: true, CRL: p("ca-ecdsa.crl.pem")},
		{Name: "old-ca", File: p("ca-nobc.pem"), Trusted: true},
	}, now)
	// Past the CRLs' nextUpdate (the "expired" clock) each CRL adds its
	// warning; the catalog message is #25 alone.
	var catalog []notify.Message
	for _, m := range msgs {
		if m.Num != 0 || m.Level != notify.LevelWarning || !strings.Contains(m.Text, "(nextUpdate)") {
			catalog = append(catalog, m)
		}
	}
	if len(catalog) != 1 || catalog[0].Num != 25 {
		t.Fatalf("messages %v", msgs)
	}
	return s
}

func fqdn(s string) ID { return ID{Type: isakmp.IDFQDN, Data: []byte(s)} }

func TestVerifyPeer(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	gw := readCert(t, p("gw-rsa.pem"))
	valid := validClock(t, dir)
	tests := []struct {
		name     string
		now      func() time.Time
		received []string
		id       ID
		wantErr  error
		reason   x509.InvalidReason // for ErrUntrusted from a CertificateInvalidError
		chainLen int
	}{
		{name: "valid RSA", received: []string{"gw-rsa.der"}, id: fqdn("gw.example.com"), chainLen: 2},
		{name: "valid RSA by its IPv4 address", received: []string{"gw-rsa.der"}, id: ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.1").To4()}, chainLen: 2},
		{name: "valid ECDSA", received: []string{"gw-ecdsa.pem"}, id: ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.2").To4()}, chainLen: 2},
		{name: "valid with intermediate sent", received: []string{"sub-gw.pem", "int-rsa.pem"}, id: fqdn("sub.example.com"), chainLen: 3},
		{name: "intermediate sent first", received: []string{"int-rsa.pem", "sub-gw.pem"}, id: fqdn("sub.example.com"), chainLen: 3},
		{name: "root without Basic Constraints forced trusted", received: []string{"nobc-gw.pem"}, id: fqdn("sub.example.com"), chainLen: 2},
		{name: "intermediate revoked", received: []string{"sub-revoked-int.pem", "int-revoked.pem"}, id: fqdn("sub.example.com"), wantErr: ErrRevoked},
		{name: "revoked", received: []string{"revoked-rsa.pem"}, id: fqdn("revoked.example.com"), wantErr: ErrRevoked},
		{name: "expired", now: clockAt(gw.NotAfter.Add(time.Hour)), received: []string{"gw-rsa.der"}, id: fqdn("gw.example.com"), wantErr: ErrUntrusted, reason: x509.Expired},
		{name: "not yet valid", now: clockAt(gw.NotBefore.Add(-time.Hour)), received: []string{"gw-rsa.der"}, id: fqdn("gw.example.com"), wantErr: ErrUntrusted, reason: x509.Expired},
		{name: "wrong CA", received: []string{"other-gw.pem"}, id: fqdn("gw.example.com"), wantErr: ErrUntrusted},
		{name: "missing intermediate", received: []string{"sub-gw.pem"}, id: fqdn("sub.example.com"), wantErr: ErrUntrusted},
		{name: "no digitalSignature", received: []string{"noku-rsa.pem"}, id: fqdn("noku.example.com"), wantErr: ErrKeyUsage},
		{name: "ID not in certificate", received: []string{"gw-rsa.der"}, id: fqdn("other.example.com"), wantErr: ErrIDMismatch},
		{name: "ID of another certificate", received: []string{"gw-rsa.der"}, id: ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.2").To4()}, wantErr: ErrIDMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now == nil {
				now = valid
			}
			s := peerStore(t, dir, now)
			var ders [][]byte
			for _, f := range tt.received {
				ders = append(ders, readDER(t, p(f)))
			}
			peer, msgs, err := s.VerifyPeer(ders, tt.id)
			if len(msgs) != 0 {
				t.Errorf("messages %v", msgs)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if tt.reason != 0 {
					var ie x509.CertificateInvalidError
					if !errors.As(err, &ie) || ie.Reason != tt.reason {
						t.Errorf("error %v, want reason %v", err, tt.reason)
					}
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(peer.Chain) != tt.chainLen || peer.Chain[0] != peer.Cert || peer.Key == nil {
				t.Errorf("chain of %d, want %d", len(peer.Chain), tt.chainLen)
			}
		})
	}
}

func TestVerifyPeerMessages(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s := peerStore(t, dir, validClock(t, dir))
	trunc := mustRead(t, p("cert-truncated.der"))
	badip := readBadIP(t, p("badip-rsa.pem"))

	// Undecodable certificates are reported and ignored; the good one wins.
	peer, msgs, err := s.VerifyPeer([][]byte{trunc, badip, readDER(t, p("gw-rsa.der")), {}, []byte("junk")}, fqdn("gw.example.com"))
	if err != nil || peer == nil {
		t.Fatalf("VerifyPeer: %v", err)
	}
	want := []string{txt39, "Certificate contains bad IP address: length=5", txt39, txt39}
	if len(msgs) != len(want) {
		t.Fatalf("messages %v, want %d", msgs, len(want))
	}
	for i := range want {
		if msgs[i].Text != want[i] {
			t.Errorf("message %d %q, want %q", i, msgs[i].Text, want[i])
		}
	}

	// Nothing decodable: message 50.
	_, _, err = s.VerifyPeer([][]byte{trunc}, fqdn("gw.example.com"))
	if err == nil || err.Error() != "Policy manager didn't find public key" {
		t.Errorf("error %v, want message 50", err)
	}
	// No trusted certificate at all: message 50.
	empty, _ := Load(nil, nil)
	_, _, err = empty.VerifyPeer([][]byte{readDER(t, p("gw-rsa.der"))}, fqdn("gw.example.com"))
	if err == nil || err.Error() != "Policy manager didn't find public key" {
		t.Errorf("error %v, want message 50", err)
	}
}

// TestVerifyPeerConfigured: a peer that sends no CERT payload is checked
// against the certificates configured without a private key.
func TestVerifyPeerConfigured(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s, msgs := Load([]Item{
		{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("ca-rsa.crl.pem")},
		{Name: "peer", File: p("gw-rsa.pem")},
		{Name: "revoked-peer", File: p("revoked-rsa.pem")},
	}, validClock(t, dir))
	if len(msgs) != 0 {
		t.Fatal(msgs)
	}
	peer, _, err := s.VerifyPeer(nil, fqdn("gw.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if !peer.Cert.Equal(readCert(t, p("gw-rsa.pem"))) {
		t.Error("wrong certificate")
	}
	if _, _, err := s.VerifyPeer(nil, fqdn("revoked.example.com")); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked peer: %v", err)
	}
}

func readBadIP(t *testing.T, path string) []byte {
	t.Helper()
	ders, _ := pemBlocks(mustRead(t, path), "CERTIFICATE")
	if len(ders) != 1 {
		t.Fatal("no PEM certificate in", path)
	}
	return ders[0]
}

// TestVerifyPeerPinned: an end-entity certificate marked trusted is its own
// point of trust, whether the peer sends it or not.
func TestVerifyPeerPinned(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s, msgs := Load([]Item{{Name: "peer", File: p("other-gw.pem"), Trusted: true}}, validClock(t, dir))
	if len(msgs) != 0 {
		t.Fatal(msgs)
	}
	for _, recv := range [][][]byte{nil, {readDER(t, p("other-gw.pem"))}} {
		peer, _, err := s.VerifyPeer(recv, fqdn("gw.example.com"))
		if err != nil {
			t.Fatalf("%d received: %v", len(recv), err)
		}
		if len(peer.Chain) != 1 {
			t.Errorf("chain of %d", len(peer.Chain))
		}
	}
	// gw-rsa has the same names but another key and an unknown CA: it is
	// not trusted, and what verifies is the pinned certificate, whose key
	// the peer's signature must then match.
	peer, _, err := s.VerifyPeer([][]byte{readDER(t, p("gw-rsa.der"))}, fqdn("gw.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if !peer.Cert.Equal(readCert(t, p("other-gw.pem"))) {
		t.Error("VerifyPeer returned the certificate that is not pinned")
	}
}
