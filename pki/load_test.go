package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// msgCert etc. are the exact catalog texts (docs/messages.md) the tests
// expect, written out here rather than taken from package notify so that a
// wrong constructor cannot pass.
const (
	txt39 = "Can not decode certificate out from BER encoded blob. The certificate may be corrupt, or should be decoded to binary BER blob before inserting (file format may be wrong?)"
	txt40 = "Can not decode CRL out from BER encoded blob. The CRL input may be corrupted, or should be decoded to binary BER blob before inserting (file format may be wrong?)."
	txt42 = "Can not get subject name from a CA certificate. This certificate is not usable as an IPsec authenticator, and is not inserted into local list of trusted roots."
	txt44 = "CRL issuer name does not appear at the CRL. Can not check the CRL validity. Discarding the CRL."
	txt45 = "CRL issuer public key was not found from the local database. Can not check the CRL validity. Discarding the CRL."
)

func TestLoadMessages(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	ca := Item{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true}
	type want struct {
		num     int
		text    string
		serious bool
		detail  string // a substring of the detail
	}
	tests := []struct {
		name   string
		items  []Item
		want   []want
		loaded []string // names the store holds afterwards
	}{
		{
			name: "all good",
			items: []Item{
				{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("ca-rsa.crl.pem")},
				{Name: "ec-ca", File: p("ca-ecdsa.pem"), Trusted: true, CRL: p("ca-ecdsa.crl.pem")},
				{Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("gw-rsa.pkcs8.pem"), Connections: []string{"branch"}},
				{Name: "gw-der", File: p("gw-rsa.der"), PrivateKey: p("gw-rsa.pkcs1.der")},
				{Name: "gw-ec", File: p("gw-ecdsa.pem"), PrivateKey: p("gw-ecdsa.sec1.pem"), Connections: []string{"ec"}},
			},
			loaded: []string{"root-ca", "ec-ca", "gw", "gw-der", "gw-ec"},
		},
		{
			name:  "8 not a certificate",
			items: []Item{{Name: "bad", File: p("not-a-cert.txt")}},
			want:  []want{{8, "SPD: could not decode certificate `bad': 2", true, "not-a-cert.txt"}},
		},
		{
			name:  "8 unreadable and used by no connection",
			items: []Item{{Name: "gone", File: p("missing.pem")}},
			want:  []want{{8, "SPD: could not decode certificate `gone': 6", true, "no such file"}},
		},
		{
			name:  "8 key type IKEv1 cannot use",
			items: []Item{{Name: "ed", File: p("ed25519-gw.pem"), PrivateKey: p("ed25519.key"), Connections: []string{"c"}}},
			want:  []want{{8, "SPD: could not decode certificate `ed': 5", true, "Ed25519"}},
		},
		{
			name:  "8 file too large",
			items: []Item{{Name: "huge", File: p("huge.pem")}},
			want:  []want{{8, "SPD: could not decode certificate `huge': 1", true, "larger than"}},
		},
		{
			name:  "39 and 8 truncated PEM",
			items: []Item{{Name: "trunc", File: p("cert-truncated.pem")}},
			want:  []want{{39, txt39, false, ""}, {8, "SPD: could not decode certificate `trunc': 3", true, "cert-truncated.pem"}},
		},
		{
			name:  "39 and 8 truncated DER",
			items: []Item{{Name: "trunc", File: p("cert-truncated.der")}},
			want:  []want{{39, txt39, false, ""}, {8, "SPD: could not decode certificate `trunc': 3", true, ""}},
		},
		{
			name:  "43 and 8 bad IP address length",
			items: []Item{{Name: "badip", File: p("badip-rsa.pem")}},
			want:  []want{{43, "Certificate contains bad IP address: length=5", false, ""}, {8, "SPD: could not decode certificate `badip': 4", true, ""}},
		},
		{
			name:  "13 once per connection",
			items: []Item{{Name: "gw", File: p("missing.pem"), PrivateKey: p("gw-rsa.pkcs8.pem"), Connections: []string{"branch", "office"}}},
			want: []want{
				{13, "SPD: could not read certificate `gw' of the connection `branch'", true, "no such file"},
				{13, "SPD: could not read certificate `gw' of the connection `office'", true, ""},
			},
		},
		{
			name:  "14 CRL missing",
			items: []Item{{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("missing.crl")}},
			want:  []want{{14, "SPD: could not read CRL `root-ca'", true, "missing.crl"}},
			// The CA itself stays configured; the policy is refused anyway.
			loaded: []string{"root-ca"},
		},
		{
			name:   "40 and 14 CRL not a CRL",
			items:  []Item{{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("crl-garbage.txt")}},
			want:   []want{{40, txt40, false, ""}, {14, "SPD: could not read CRL `root-ca'", true, "crl-garbage.txt"}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "40 and 14 CRL truncated",
			items:  []Item{{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("crl-truncated.der")}},
			want:   []want{{40, txt40, false, ""}, {14, "SPD: could not read CRL `root-ca'", true, ""}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "44 and 14 CRL of another CA",
			items:  []Item{{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("other-ca.crl.der")}},
			want:   []want{{44, txt44, false, ""}, {14, "SPD: could not read CRL `root-ca'", true, `issued by "C=FI, O=Other, CN=Other CA", not by the certificate's subject "C=FI, O=Example, CN=Example RSA CA"`}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "14 CRL with a broken signature",
			items:  []Item{{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true, CRL: p("crl-badsig.der")}},
			want:   []want{{14, "SPD: could not read CRL `root-ca'", true, "signature does not verify"}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "15 key readable by others",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("open.key"), Connections: []string{"branch"}}},
			want:   []want{{15, "SPD: could not read private key `gw'", true, "has mode 0644: it is readable by group or others; make it readable by its owner only (chmod 600 "}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "15 key missing",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("missing.key"), Connections: []string{"branch"}}},
			want:   []want{{15, "SPD: could not read private key `gw'", true, "no such file"}},
			loaded: []string{"root-ca"},
		},
		{
			name:  "19 no file name",
			items: []Item{{Name: "nofile", Trusted: true}},
			want:  []want{{19, "SPD: no certificate file name specified for the certificate `nofile'", true, ""}},
		},
		{
			name:   "20 no key for an authentication certificate",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), Connections: []string{"branch"}}},
			want:   []want{{20, "SPD: no private key file specified for the authentication certificate `gw'", true, ""}},
			loaded: []string{"root-ca"},
		},
		{
			name:  "23 CA not trusted, and 45 for its CRL",
			items: []Item{{Name: "root-ca", File: p("ca-rsa.pem"), CRL: p("ca-rsa.crl.der")}},
			want: []want{
				{23, "SPD: the certificate `root-ca' is a CA certificate but is not marked as trusted. The certificate is not configured in the certificate manager.", false, ""},
				{45, txt45, false, "not configured"},
			},
		},
		{
			name:   "24 broken PEM key",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("key-broken.pem"), Connections: []string{"branch"}}},
			want:   []want{{24, "SPD: the private key `gw' is broken", true, "key-broken.pem"}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "24 truncated DER key",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("key-truncated.der"), Connections: []string{"branch"}}},
			want:   []want{{24, "SPD: the private key `gw' is broken", true, ""}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "24 encrypted key",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("key-encrypted.pem"), Connections: []string{"branch"}}},
			want:   []want{{24, "SPD: the private key `gw' is broken", true, "is encrypted: iked reads unencrypted keys only"}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "24 key of another certificate",
			items:  []Item{ca, {Name: "gw", File: p("gw-rsa.pem"), PrivateKey: p("revoked-rsa.key"), Connections: []string{"branch"}}},
			want:   []want{{24, "SPD: the private key `gw' is broken", true, "does not belong to certificate"}},
			loaded: []string{"root-ca"},
		},
		{
			name:   "25 trusted without Basic Constraints",
			items:  []Item{{Name: "old-ca", File: p("ca-nobc.pem"), Trusted: true}},
			want:   []want{{25, "SPD: the trusted certificate `old-ca' does not contain the Basic Constraints extension. This is against RFC-2459. However, forcing the certificate as a point of trust because of the flag `trusted'.", false, ""}},
			loaded: []string{"old-ca"},
		},
		{
			name:  "42 CA with an empty subject",
			items: []Item{{Name: "anon-ca", File: p("ca-empty.pem"), Trusted: true}},
			want:  []want{{42, txt42, false, "empty subject"}},
		},
	}
	if err := os.WriteFile(p("huge.pem"), make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("open.key"), mustRead(t, p("gw-rsa.pkcs8.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p("open.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := LoadDetailed(tt.items, validClock(t, dir))
			if len(got) != len(tt.want) {
				for _, g := range got {
					t.Logf("got %d %q (%s)", g.Msg.Num, g.Msg.Text, g.Detail)
				}
				t.Fatalf("got %d messages, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Msg.Num != w.num || g.Msg.Text != w.text || g.Msg.Serious() != w.serious {
					t.Errorf("message %d: got %d %q serious=%v, want %d %q serious=%v", i, g.Msg.Num, g.Msg.Text, g.Msg.Serious(), w.num, w.text, w.serious)
				}
				if !strings.Contains(g.Detail, w.detail) {
					t.Errorf("message %d: detail %q lacks %q", i, g.Detail, w.detail)
				}
			}
			var names []string
			for _, c := range s.Certs() {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.loaded, ",") {
				t.Errorf("loaded %v, want %v", names, tt.loaded)
			}
			// Load returns the same messages without details.
			_, plain := Load(tt.items, validClock(t, dir))
			if len(plain) != len(got) {
				t.Errorf("Load: %d messages, LoadDetailed %d", len(plain), len(got))
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadKeyFormats loads the same RSA and ECDSA keys in every encoding
// openssl and strongSwan's pki wrote, and checks that each signs for its
// certificate.
func TestLoadKeyFormats(t *testing.T) {
	dir := testDir(t)
	for _, tc := range []struct{ cert, key string }{
		{"gw-rsa.pem", "gw-rsa.pkcs1.pem"},
		{"gw-rsa.pem", "gw-rsa.pkcs1.der"},
		{"gw-rsa.pem", "gw-rsa.pkcs8.pem"},
		{"gw-rsa.pem", "gw-rsa.pkcs8.der"},
		{"gw-ecdsa.pem", "gw-ecdsa.sec1.pem"},
		{"gw-ecdsa.pem", "gw-ecdsa.sec1.der"},
		{"gw-ecdsa.pem", "gw-ecdsa.pkcs8.pem"},
		{"gw-ecdsa.pem", "gw-ecdsa.pkcs8.der"},
		{"ca-rsa.pem", "ca-rsa.key"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			s, msgs := Load([]Item{{Name: "gw", File: filepath.Join(dir, tc.cert), Trusted: tc.cert == "ca-rsa.pem",
				PrivateKey: filepath.Join(dir, tc.key), Connections: []string{"c"}}}, validClock(t, dir))
			if len(msgs) != 0 {
				t.Fatalf("messages: %v", msgs)
			}
			key, err := s.PrivateKey("gw")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := s.Cert("gw")
			hash := []byte("0123456789abcdef0123456789abcdef")
			sig, err := Sign(nil, key, hash)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(c.X509.PublicKey, hash, sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	dir := testDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	s, msgs := Load([]Item{
		{Name: "root-ca", File: p("ca-rsa.pem"), Trusted: true},
		{Name: "int-ca", File: p("int-rsa.pem"), Trusted: true},
		{Name: "old-ca", File: p("ca-nobc.pem"), Trusted: true},
		{Name: "sub", File: p("sub-gw.pem"), PrivateKey: p("revoked-rsa.key"), Connections: []string{"c"}},
		{Name: "peer", File: p("gw-ecdsa.pem")},
	}, validClock(t, dir))
	if len(msgs) != 1 || msgs[0].Num != 25 {
		t.Fatalf("messages %v", msgs)
	}
	if _, err := s.PrivateKey("peer"); err == nil || err.Error() != "Policy manager didn't find private key" {
		t.Errorf("PrivateKey(peer) = %v, want message 49", err)
	}
	if _, err := s.PrivateKey("nothing"); err == nil || err.Error() != "Policy manager didn't find private key" {
		t.Errorf("PrivateKey(nothing) = %v, want message 49", err)
	}
	chain, err := s.LocalCerts("sub")
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || string(chain[0]) != string(readDER(t, p("sub-gw.pem"))) || string(chain[1]) != string(readDER(t, p("int-rsa.pem"))) {
		t.Errorf("LocalCerts: %d certificates, want sub-gw then int-rsa", len(chain))
	}
	var dns []string
	for _, der := range s.CARequests() {
		dn, err := FormatDN(der)
		if err != nil {
			t.Fatal(err)
		}
		dns = append(dns, dn)
	}
	want := "C=FI, O=Example, CN=Example RSA CA|C=FI, O=Example, OU=Sub, CN=Example Intermediate CA|C=FI, O=Example, CN=No Basic Constraints CA"
	if strings.Join(dns, "|") != want {
		t.Errorf("CARequests %q, want %q", strings.Join(dns, "|"), want)
	}
}
