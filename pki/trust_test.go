package pki

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/isakmp"
)

// TestCACannotBePeer: a CA certificate the peer sends (a root or an
// intermediate, with the identity its subject gives) never authenticates
// it, even though its chain to a trusted root verifies.
func TestCACannotBePeer(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s := peerStore(t, dir, validClock(t, dir))
	for _, f := range []string{"ca-rsa.pem", "int-rsa.pem", "ca-ecdsa.pem"} {
		c := readCert(t, p(f))
		id := ID{Type: isakmp.IDDERASN1DN, Data: c.RawSubject}
		peer, _, err := s.VerifyPeer([][]byte{c.Raw}, id)
		if !errors.Is(err, ErrCAAsPeer) || peer != nil {
			t.Errorf("%s: peer %v, error %v, want ErrCAAsPeer", f, peer, err)
			continue
		}
		t.Logf("%s: %v", f, err)
	}
	// Sent beside an end entity, a CA certificate still builds the chain.
	if _, _, err := s.VerifyPeer([][]byte{readDER(t, p("int-rsa.pem")), readDER(t, p("sub-gw.pem"))}, fqdn("sub.example.com")); err != nil {
		t.Errorf("intermediate beside its end entity: %v", err)
	}
}

// TestVerifyPeerCA: with a connection's ca, only a chain ending at that
// trusted certificate authenticates; another configured CA may sit on the
// way as an intermediate.
func TestVerifyPeerCA(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s := peerStore(t, dir, validClock(t, dir))
	gw := [][]byte{readDER(t, p("gw-rsa.der"))}
	if _, _, err := s.VerifyPeerCA(gw, fqdn("gw.example.com"), "root-ca"); err != nil {
		t.Errorf("gw-rsa under root-ca: %v", err)
	}
	if _, _, err := s.VerifyPeerCA(gw, fqdn("gw.example.com"), "ec-ca"); !errors.Is(err, ErrUntrusted) {
		t.Errorf("gw-rsa required under ec-ca: %v, want ErrUntrusted", err)
	}
	ec := [][]byte{readDER(t, p("gw-ecdsa.pem"))}
	if _, _, err := s.VerifyPeerCA(ec, fqdn("gw-ec.example.com"), "root-ca"); !errors.Is(err, ErrUntrusted) {
		t.Errorf("gw-ecdsa required under root-ca: %v, want ErrUntrusted", err)
	}

	// The intermediate configured as trusted: required CA the root, the
	// peer sending only its own certificate.
	s2, msgs := Load([]Item{
		{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true},
		{Name: "int-ca", File: p("int-rsa.pem"), Trusted: true},
	}, validClock(t, dir))
	if len(msgs) != 0 {
		t.Fatal(msgs)
	}
	sub := [][]byte{readDER(t, p("sub-gw.pem"))}
	peer, _, err := s2.VerifyPeerCA(sub, fqdn("sub.example.com"), "root-ca")
	if err != nil || len(peer.Chain) != 3 {
		t.Fatalf("sub-gw under root-ca through the configured intermediate: %v", err)
	}
	if _, _, err := s2.VerifyPeerCA(gw, fqdn("gw.example.com"), "int-ca"); !errors.Is(err, ErrUntrusted) {
		t.Errorf("gw-rsa (issued by the root) required under int-ca: %v, want ErrUntrusted", err)
	}
}

// TestKeyFileOwner: a private key file of another user than root and the
// daemon's is message 15, whatever its mode.
func TestKeyFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.Chown(p("gw-rsa.pkcs8.pem"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, fs := LoadDetailed([]Item{{Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("gw-rsa.pkcs8.pem"), Connections: []string{"c"}}}, validClock(t, dir))
	if len(fs) != 1 || fs[0].Msg.Num != 15 || !strings.Contains(fs[0].Detail, "uid 65534") {
		t.Fatalf("findings %+v, want message 15 naming uid 65534", fs)
	}
	t.Log(fs[0].Detail)
}

// TestKeyFileBytesWiped: once a private key is decoded, the file's bytes
// read for it are zero, and the key still matches its certificate.
func TestKeyFileBytesWiped(t *testing.T) {
	dir := testDir(t)
	for _, tc := range []struct{ key, cert string }{
		{"gw-rsa.pkcs1.pem", "gw-rsa.pem"}, {"gw-rsa.pkcs1.der", "gw-rsa.pem"},
		{"gw-rsa.pkcs8.pem", "gw-rsa.pem"}, {"gw-rsa.pkcs8.der", "gw-rsa.pem"},
		{"gw-ecdsa.sec1.pem", "gw-ecdsa.pem"}, {"gw-ecdsa.pkcs8.der", "gw-ecdsa.pem"},
	} {
		b := mustRead(t, filepath.Join(dir, tc.key))
		key, err := keyFromFile(tc.key, b)
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		for i, c := range b {
			if c != 0 {
				t.Errorf("%s: byte %d of the file's bytes is %#x after decoding, want 0", tc.key, i, c)
				break
			}
		}
		if !keyMatches(key, readCert(t, filepath.Join(dir, tc.cert)).PublicKey) {
			t.Errorf("%s: the key no longer matches %s", tc.key, tc.cert)
		}
	}
}
