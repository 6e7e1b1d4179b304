package pki

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/isakmp"
)

func TestMatchID(t *testing.T) {
	dir := testDir(t)
	gw := readCert(t, filepath.Join(dir, "gw-rsa.pem"))
	ec := readCert(t, filepath.Join(dir, "gw-ecdsa.pem"))
	dn := func(s string) []byte {
		b, err := ParseDN(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	keyHash, err := publicKeyHash(gw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   ID
		ok   bool
	}{
		{"IPv4 in SAN", ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.1").To4()}, true},
		{"IPv4 not in SAN", ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.9").To4()}, false},
		{"IPv4 of wrong length", ID{isakmp.IDIPv4Addr, net.ParseIP("192.0.2.1")}, false},
		{"IPv6 in SAN", ID{isakmp.IDIPv6Addr, net.ParseIP("2001:db8::1")}, true},
		{"IPv6 not in SAN", ID{isakmp.IDIPv6Addr, net.ParseIP("2001:db8::2")}, false},
		{"IPv4-mapped IPv6 is not the IPv4 SAN", ID{isakmp.IDIPv6Addr, net.ParseIP("::ffff:192.0.2.1")}, false},
		{"FQDN", fqdn("gw.example.com"), true},
		{"FQDN any case", fqdn("GW.Example.COM"), true},
		{"FQDN other", fqdn("gw2.example.com"), false},
		{"FQDN is not the CN only", fqdn("Example RSA CA"), false},
		{"USER_FQDN", ID{isakmp.IDUserFQDN, []byte("admin@example.com")}, true},
		{"USER_FQDN other", ID{isakmp.IDUserFQDN, []byte("root@example.com")}, false},
		{"DN raw subject", ID{isakmp.IDDERASN1DN, gw.RawSubject}, true},
		{"DN from text (PrintableString vs UTF8String)", ID{isakmp.IDDERASN1DN, dn("C=FI, O=Example, CN=gw.example.com")}, true},
		{"DN case differs in a PrintableString", ID{isakmp.IDDERASN1DN, dn("C=fi, O=Example, CN=gw.example.com")}, true},
		{"DN case differs in a UTF8String", ID{isakmp.IDDERASN1DN, dn("C=FI, O=example, CN=gw.example.com")}, false},
		{"DN other order", ID{isakmp.IDDERASN1DN, dn("CN=gw.example.com, O=Example, C=FI")}, false},
		{"DN missing an RDN", ID{isakmp.IDDERASN1DN, dn("C=FI, CN=gw.example.com")}, false},
		{"DN of the issuer", ID{isakmp.IDDERASN1DN, gw.RawIssuer}, false},
		{"DN garbage", ID{isakmp.IDDERASN1DN, []byte{0x30, 0x03, 0x31, 0x01}}, false},
		{"KEY_ID subject key identifier", ID{isakmp.IDKeyID, gw.SubjectKeyId}, true},
		{"KEY_ID public key hash", ID{isakmp.IDKeyID, keyHash}, true},
		{"KEY_ID other", ID{isakmp.IDKeyID, []byte("nope")}, false},
		{"subnet type never names a certificate", ID{isakmp.IDIPv4AddrSubnet, []byte{192, 0, 2, 0, 255, 255, 255, 0}}, false},
		{"empty", ID{isakmp.IDFQDN, nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := MatchID(gw, tt.id)
			if (err == nil) != tt.ok {
				t.Errorf("MatchID(%s %s) = %v, want match %v", tt.id.Type, tt.id, err, tt.ok)
			}
		})
	}
	// The ECDSA certificate strongSwan's pki issued: its SANs.
	for _, id := range []ID{fqdn("gw-ec.example.com"), {isakmp.IDIPv4Addr, []byte{192, 0, 2, 2}}, {isakmp.IDUserFQDN, []byte("gw@example.com")}, {isakmp.IDDERASN1DN, dn("C=FI, O=Example, CN=gw-ec.example.com")}} {
		if err := MatchID(ec, id); err != nil {
			t.Errorf("ECDSA certificate: %v", err)
		}
	}
}

func TestIDString(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		want string
	}{
		{ID{isakmp.IDIPv4Addr, []byte{192, 0, 2, 1}}, "192.0.2.1"},
		{ID{isakmp.IDIPv6Addr, net.ParseIP("2001:db8::1")}, "2001:db8::1"},
		{fqdn("gw.example.com"), "gw.example.com"},
		{ID{isakmp.IDUserFQDN, []byte("a@example.com\n")}, "a@example.com?"},
		{ID{isakmp.IDDERASN1DN, mustParseDN(t, "C=FI, O=Example, CN=gw")}, "C=FI, O=Example, CN=gw"},
		{ID{isakmp.IDKeyID, []byte{1, 2}}, "ID_KEY_ID:0102"},
		{ID{isakmp.IDType(200), nil}, "IDType(200):"},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.id.Type, got, tc.want)
		}
	}
}

func mustParseDN(t *testing.T, s string) []byte {
	t.Helper()
	b, err := ParseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFormatDNAgainstStrongSwan compares FormatDN with the subject that
// strongSwan's `pki --print` printed for each test certificate (make.sh
// stores it in dn-*.txt).
func TestFormatDNAgainstStrongSwan(t *testing.T) {
	files, err := filepath.Glob("testdata/dn-*.txt")
	if err != nil || len(files) < 8 {
		t.Fatalf("dn-*.txt: %v, %d files", err, len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "dn-"), ".txt")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(string(b), "\n")
			c := readCert(t, filepath.Join("testdata", name+".pem"))
			got, err := FormatDN(c.RawSubject)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("FormatDN = %q, strongSwan prints %q", got, want)
			}
			// Text strongSwan printed parses back to a DN that matches,
			// unless it lost information ('?' for non-ASCII, unescaped commas).
			if strings.ContainsAny(want, "?") || name == "multi-rdn" || want == "" {
				return
			}
			der, err := ParseDN(want)
			if err != nil {
				t.Fatal(err)
			}
			if !MatchDN(der, c.RawSubject) {
				t.Errorf("ParseDN(%q) does not match the certificate's subject", want)
			}
		})
	}
}

func TestParseDN(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"C=FI, O=Example, CN=gw", "C=FI, O=Example, CN=gw"},
		{"c=FI,o=Example,cn=gw", "C=FI, O=Example, CN=gw"},
		{"/C=FI/O=Example/CN=gw", "C=FI, O=Example, CN=gw"},
		{`O=Example\, Inc., CN=gw`, "O=Example, Inc., CN=gw"},
		{"emailAddress=a@example.com, 2.5.4.3=x", "E=a@example.com, CN=x"},
		{"1.2.3.4=odd", "1.2.3.4=odd"},
		{"C=Ö", "C=??"}, // not printable: encoded as UTF8String
	} {
		der, err := ParseDN(tc.in)
		if err != nil {
			t.Errorf("ParseDN(%q): %v", tc.in, err)
			continue
		}
		got, err := FormatDN(der)
		if err != nil || got != tc.out {
			t.Errorf("ParseDN(%q) prints %q (%v), want %q", tc.in, got, err, tc.out)
		}
	}
	for _, bad := range []string{"", "CN", "XX=1", "=x", "CN=a,,O=b", "1=x"} {
		if _, err := ParseDN(bad); err == nil {
			t.Errorf("ParseDN(%q) succeeded", bad)
		}
	}
	// The DER of a DN openssl wrote in a certificate equals ParseDN's
	// when the string types agree (C PrintableString, others UTF8String).
	c := readCert(t, "testdata/gw-rsa.pem")
	if der := mustParseDN(t, "C=FI, O=Example, CN=gw.example.com"); string(der) != string(c.RawSubject) {
		t.Errorf("ParseDN DER %x, openssl's %x", der, c.RawSubject)
	}
}
