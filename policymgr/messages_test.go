package policymgr

import (
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// psk is a connection body for IKE with a pre-shared key.
const pskIKE = `    ike: {transforms: [ike], auth: psk, psk: "secret"}
    proposal-list: l
`

// goodKeys is a good manually keyed connection's body.
const goodKeys = `    manual-keys:
      - protocol: esp
        spi-in: 0x1000
        spi-out: 0x1001
        cipher-key-in: "0x00112233445566778899aabbccddeeff"
        cipher-key-out: "0xffeeddccbbaa99887766554433221100"
        hmac-key-in: "0x00112233445566778899aabbccddeeff00112233"
        hmac-key-out: "0x33221100ffeeddccbbaa99887766554433221100"
`

type outcome int

const (
	loaded  outcome = iota // the policy is instantiated with the connection
	skipped                // the policy is instantiated without the connection
	refused                // no policy: the messages end with 21
)

func (o outcome) String() string { return [...]string{"loaded", "skipped", "refused"}[o] }

type msgCase struct {
	name    string
	policy  string   // appended to base
	files   []string // pki test files copied beside the policy
	want    []string // "num|text" of every finding, in order (21 included)
	outcome outcome
	conn    string // the connection loaded or skipped
}

func TestMessages(t *testing.T) {
	certs := func(s string) string { return "certificates:\n" + s }
	ca := "  root-ca: {file: ca-rsa.pem, trusted: true}\n"
	certConn := `connections:
  c:
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    ike: {transforms: [ike], auth: certificate, certificate: gw}
    proposal-list: l
`
	cases := []msgCase{
		{
			name:   "8 not a certificate",
			policy: certs("  bad: {file: not-a-cert.txt}\n"), files: []string{"not-a-cert.txt"},
			want: []string{"8|SPD: could not decode certificate `bad': 2", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "39 and 8 truncated certificate",
			policy: certs("  trunc: {file: cert-truncated.der}\n"), files: []string{"cert-truncated.der"},
			want: []string{"39|" + notify.CertBERDecode().Text, "8|SPD: could not decode certificate `trunc': 3", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "43 and 8 bad subjectAltName address",
			policy: certs("  badip: {file: badip-rsa.pem}\n"), files: []string{"badip-rsa.pem"},
			want: []string{"43|Certificate contains bad IP address: length=5", "8|SPD: could not decode certificate `badip': 4", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "40 and 14 CRL garbage",
			policy: certs("  root-ca: {file: ca-rsa.pem, trusted: true, crl: crl-garbage.txt}\n"), files: []string{"ca-rsa.pem", "crl-garbage.txt"},
			want: []string{"40|" + notify.CRLBERDecode().Text, "14|SPD: could not read CRL `root-ca'", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "44 and 14 CRL of another issuer",
			policy: certs("  root-ca: {file: ca-rsa.pem, trusted: true, crl: other-ca.crl.der}\n"), files: []string{"ca-rsa.pem", "other-ca.crl.der"},
			want: []string{"44|" + notify.CRLIssuerMissing().Text, "14|SPD: could not read CRL `root-ca'", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "23 and 45 untrusted CA with a CRL",
			policy: certs("  root-ca: {file: ca-rsa.pem, crl: ca-rsa.crl.der}\n"), files: []string{"ca-rsa.pem", "ca-rsa.crl.der"},
			want: []string{
				"23|SPD: the certificate `root-ca' is a CA certificate but is not marked as trusted. The certificate is not configured in the certificate manager.",
				"45|" + notify.CRLIssuerKeyMissing().Text,
			},
			outcome: loaded,
		},
		{
			name:   "42 CA without a subject",
			policy: certs("  anon-ca: {file: ca-empty.pem, trusted: true}\n"), files: []string{"ca-empty.pem"},
			want:    []string{"42|" + notify.CASubjectMissing().Text},
			outcome: loaded,
		},
		{
			name:    "9 local-address text",
			policy:  "connections:\n  c:\n    local-address: 198.51.100.0/33\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"9|SPD: Could not decode local-address of connection `c'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "10 remote-address backwards range",
			policy:  "connections:\n  c:\n    remote-address: 203.0.113.9-203.0.113.1\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"10|SPD: Could not decode remote-address of connection `c'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "11 local-address DNS name",
			policy:  "connections:\n  c:\n    local-address: gw.example.com\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"11|SPD: Could not handle local-address of type 2 for connection `c'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "12 remote-address DNS name",
			policy:  "connections:\n  c:\n    remote-address: branch.example.net\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"12|SPD: Could not handle remote-address of type 2 for connection `c'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:   "13 certificate of a connection unreadable",
			policy: certs(ca+"  gw: {file: missing.pem, private-key: gw-rsa.pkcs8.pem}\n") + certConn, files: []string{"ca-rsa.pem", "gw-rsa.pkcs8.pem"},
			want: []string{"13|SPD: could not read certificate `gw' of the connection `c'", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "14 CRL unreadable",
			policy: certs("  root-ca: {file: ca-rsa.pem, trusted: true, crl: missing.crl}\n"), files: []string{"ca-rsa.pem"},
			want: []string{"14|SPD: could not read CRL `root-ca'", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "15 private key unreadable",
			policy: certs(ca+"  gw: {file: gw-rsa.pem, private-key: missing.key}\n") + certConn, files: []string{"ca-rsa.pem", "gw-rsa.pem"},
			want: []string{"15|SPD: could not read private key `gw'", "21|" + txt21}, outcome: refused,
		},
		{
			name:    "16 local-gw not an address",
			policy:  "connections:\n  c:\n    local-gw: gw.example.com\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"16|SPD: Invalid local-gw specification c", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "17 remote-gw not an address",
			policy:  "connections:\n  c:\n    local-gw: 192.0.2.1\n    remote-gw: 192.0.2.300\n" + pskIKE,
			want:    []string{"17|SPD: Invalid remote-gw specification c", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "18 mixed families skip the connection",
			policy: "connections:\n  c:\n    local-address: 198.51.100.0/24\n    remote-address: 2001:db8::/32\n    remote-gw: 192.0.2.2\n" + pskIKE +
				"  d:\n    remote-gw: 192.0.2.3\n" + pskIKE,
			want:    []string{"18|SPD: local and remote selectors specify different IP protocol ID. Skipping connection `c'"},
			outcome: skipped, conn: "c",
		},
		{
			name:   "19 no certificate file",
			policy: certs("  nofile: {trusted: true}\n"),
			want:   []string{"19|SPD: no certificate file name specified for the certificate `nofile'", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "20 no private key for the authentication certificate",
			policy: certs(ca+"  gw: {file: gw-rsa.pem}\n") + certConn, files: []string{"ca-rsa.pem", "gw-rsa.pem"},
			want: []string{"20|SPD: no private key file specified for the authentication certificate `gw'", "21|" + txt21}, outcome: refused,
		},
		{
			name:    "22 ports with icmp are ignored",
			policy:  "connections:\n  c:\n    protocol: icmp\n    local-port: 80\n    remote-gw: 192.0.2.2\n" + pskIKE,
			want:    []string{"22|SPD: port selectors specified for protocol `icmp' which is not TCP or UPD: port selectors ignored for connection `c'"},
			outcome: loaded, conn: "c",
		},
		{
			name:   "23 CA not trusted is ignored",
			policy: certs("  root-ca: {file: ca-rsa.pem}\n"), files: []string{"ca-rsa.pem"},
			want:    []string{"23|SPD: the certificate `root-ca' is a CA certificate but is not marked as trusted. The certificate is not configured in the certificate manager."},
			outcome: loaded,
		},
		{
			name:   "24 broken private key",
			policy: certs(ca+"  gw: {file: gw-rsa.pem, private-key: key-broken.pem}\n") + certConn, files: []string{"ca-rsa.pem", "gw-rsa.pem", "key-broken.pem"},
			want: []string{"24|SPD: the private key `gw' is broken", "21|" + txt21}, outcome: refused,
		},
		{
			name:   "25 trusted without Basic Constraints is forced",
			policy: certs("  old-ca: {file: ca-nobc.pem, trusted: true}\n"), files: []string{"ca-nobc.pem"},
			want:    []string{"25|SPD: the trusted certificate `old-ca' does not contain the Basic Constraints extension. This is against RFC-2459. However, forcing the certificate as a point of trust because of the flag `trusted'."},
			outcome: loaded,
		},
		{
			name: "26 HMAC key short",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" +
				strings.Replace(goodKeys, `hmac-key-in: "0x00112233445566778899aabbccddeeff00112233"`, `hmac-key-in: "0x0011"`, 1),
			want:    []string{"26|AH or ESP authentication key is not long enough for the specified algorithm at connection m", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "27 cipher key short",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" +
				strings.Replace(goodKeys, `cipher-key-out: "0xffeeddccbbaa99887766554433221100"`, `cipher-key-out: "0xffeeddcc"`, 1),
			want:    []string{"27|ESP cipher key is not long enough for the specified algorithm at Connection m: got 32, minimum 128", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "28 no proposal list",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n" + goodKeys,
			want:    []string{"28|SPD: Algorithms for manually keyed connection m can not be determined. The proposal-list is missing, or it does not contain exactly one proposal.", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "29 two ciphers",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-two-ciphers\n" + goodKeys,
			want:    []string{"29|SPD: invalid number of cipher or HMAC algorithm names in proposal `pm-two' for manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "30 two compression algorithms",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-comp-two\n" + goodKeys,
			want:    []string{"30|SPD: invalid number of compression algorithm names in proposal `pm-comp-two' for manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "31 two HMACs for AH",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-ah-two\n" + goodKeys,
			want:    []string{"31|SPD: invalid number of HMAC names in proposal `pm-ah-two' for manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "32 two proposals",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-two-proposals\n" + goodKeys,
			want:    []string{"32|SPD: invalid number of proposals in the proposal list `lm-two-proposals' of the manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "33 isakmp transform in a manual proposal",
			policy: strings.Replace(strings.Replace(base, "proposals:\n", "proposals:\n  pm-ike: [ike]\n", 1), "proposal-lists:\n", "proposal-lists:\n  lm-ike: [pm-ike]\n", 1) +
				"connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-ike\n" + goodKeys,
			want:    []string{"33|SPD: invalid transform type in transform `ike' for manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "34 and 35 one key entry for AH and ESP",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm-ah-esp\n" +
				strings.Replace(goodKeys, `"0x00112233445566778899aabbccddeeff00112233"`, `"0x00112233445566778899aabbccddeeff00112233"`, 1),
			want: []string{
				"34|SPD: The number of keys 1 for connection m does not match protocol count 2",
				"35|SPD: too few keys for manually keyed connection `m'",
				"21|" + txt21,
			},
			outcome: refused,
		},
		{
			name: "35 an outbound key missing",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" +
				strings.Replace(goodKeys, "        cipher-key-out: \"0xffeeddccbbaa99887766554433221100\"\n", "", 1),
			want:    []string{"35|SPD: too few keys for manually keyed connection `m'", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "36 SPI below 256",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" +
				strings.Replace(goodKeys, "spi-out: 0x1001", "spi-out: 255", 1),
			want:    []string{"36|SPI for connection m is not specified or is less than 256.", "21|" + txt21},
			outcome: refused,
		},
		{
			name:    "37 no endpoints",
			policy:  "connections:\n  m:\n    local-address: 192.0.2.0/24\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" + goodKeys,
			want:    []string{"37|Transport endpoints not specified for Connection m. For IKE these can be left out, but for manually keyed connection they must be present.", "21|" + txt21},
			outcome: refused,
		},
		{
			name: "38 long key truncated",
			policy: "connections:\n  m:\n    local-address: 192.0.2.1\n    remote-address: 192.0.2.3\n    proposal-list: lm\n" +
				strings.Replace(goodKeys, `cipher-key-in: "0x00112233445566778899aabbccddeeff"`, `cipher-key-in: "0x00112233445566778899aabbccddeeff0011"`, 1),
			want:    []string{"38|Truncating key m.cipher-key-in ciph len 144 to required 128 bits"},
			outcome: loaded, conn: "m",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.policy
			if !strings.HasPrefix(text, "\ntransforms") {
				text = base + text
			}
			path := writePolicy(t, text, tc.files...)
			p, fs, err := LoadFindings(path, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, fs, tc.want)
			switch tc.outcome {
			case refused:
				if p != nil {
					t.Errorf("policy instantiated, want refused")
				}
			case loaded, skipped:
				if p == nil {
					t.Fatalf("policy refused, want %s", tc.outcome)
				}
				if tc.conn != "" {
					_, ok := p.Connection(tc.conn)
					if ok != (tc.outcome == loaded) {
						t.Errorf("connection %q present = %v, want %s", tc.conn, ok, tc.outcome)
					}
				}
			}
		})
	}
}

func checkFindings(t *testing.T, fs []Finding, want []string) {
	t.Helper()
	var got []string
	for _, f := range fs {
		got = append(got, strings.Join([]string{itoa(f.Num), f.Text}, "|"))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		logFindings(t, fs)
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
