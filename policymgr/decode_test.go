package policymgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/isakmp"
)

// TestOnePass checks that every error of a file is reported in one load,
// in file order, each naming its line, and that 21 closes the report.
func TestOnePass(t *testing.T) {
	text := dedent(`
	daemon:
	  engine: bogus
	  retransmit: {timeout: 2s, tries: 0}
	transforms:
	  ike: {protocol: isakmp, ciphers: [aes128, rc4], hashes: [sha256], groups: [modp2048]}
	  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256], hashes: [sha1]}
	proposals:
	  p: [esp, missing]
	proposal-lists:
	  l: [p]
	connections:
	  branch:
	    local-address: 198.51.100.0/24
	    remote-adress: 203.0.113.0/24
	    remote-address: 203.0.113.0/24
	    remote-gw: 192.0.2.2
	    remote-gw: 192.0.2.3
	    ike: {transforms: [ike], auth: psk}
	    proposal-list: l
	  other:
	    local-address: nonsense!
	    remote-gw: 192.0.2.4
	    ike: {transforms: [ike], psk: x, mode: sideways}
	    proposal-list: l
	    lifetime: forever
	`)
	path := writePolicy(t, text)
	p, fs, err := LoadFindings(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`0|line 2: daemon engine "bogus": it must be xfrm or none`,
		`0|line 3: daemon retransmit tries must be between 1 and 20, not 0`,
		`0|line 5: unknown cipher "rc4" in transform "ike" (known: des, 3des, aes128, aes192, aes256, blowfish, cast128)`,
		`0|line 6: key "hashes" does not apply to transform "esp" of protocol esp`,
		`0|line 8: proposal "p" names transform "missing", which the transforms section does not define`,
		`0|line 14: unknown key "remote-adress" in connection "branch" (did you mean "remote-address"?)`,
		`0|line 17: duplicate key "remote-gw" in connection "branch" (first given at line 16)`,
		`0|line 18: connection "branch" ike: auth psk needs psk or psk-file`,
		`9|SPD: Could not decode local-address of connection ` + "`other'",
		`0|line 23: connection "other" ike mode "sideways": it must be main or aggressive`,
		`0|line 25: connection "other" lifetime must be a duration such as 90s or 8h, not "forever"`,
		"21|" + txt21,
	}
	checkFindings(t, fs, want)
	if p != nil {
		t.Error("policy instantiated")
	}
	// Catalog messages carry their line beside the text.
	for _, f := range fs {
		if f.Num == 9 && f.Line != 21 {
			t.Errorf("message 9 at line %d, want 21", f.Line)
		}
	}
}

func TestYAMLSyntaxError(t *testing.T) {
	path := writePolicy(t, "daemon:\n  listen: [0.0.0.0\nconnections: {}\n")
	p, fs, err := LoadFindings(path, LoadOptions{})
	if err != nil || p != nil {
		t.Fatalf("policy %v, err %v", p, err)
	}
	if len(fs) != 2 || fs[0].Num != 0 || !strings.HasPrefix(fs[0].Text, "line ") || !strings.Contains(fs[0].Text, "YAML syntax") || fs[1].Num != 21 {
		logFindings(t, fs)
		t.Fatal("want a YAML syntax error naming its line, then 21")
	}
}

func TestWrongTypes(t *testing.T) {
	text := dedent(`
	daemon:
	  listen: {a: b}
	  ike-port: five hundred
	  log-unmatched: maybe
	connections: [a, b]
	`)
	_, fs, _ := LoadFindings(writePolicy(t, text), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 2: daemon listen must be a list, not a mapping`,
		`0|line 3: daemon ike-port must be a whole number, not "five hundred"`,
		`0|line 4: daemon log-unmatched must be true or false, not "maybe"`,
		`0|line 5: the connections section must be a mapping of keys, not a list`,
		"21|" + txt21,
	})
}

func TestDaemonDefaultsAndValues(t *testing.T) {
	p, fs, err := LoadFindings(writePolicy(t, "# nothing but defaults\n"), LoadOptions{})
	if err != nil || p == nil || len(fs) != 0 {
		t.Fatalf("empty file: %v %v", err, fs)
	}
	if d := p.Daemon; d.IKEPort != 500 || d.NATTPort != 4500 || d.Engine != "xfrm" || d.Phase1LifetimeMin != 5*time.Minute ||
		d.Phase2LifetimeMin != 2*time.Minute || d.HalfOpenMax != 4096 || d.Retransmit.Timeout != 2*time.Second || d.Retransmit.Tries != 5 ||
		d.DPD.Delay != 30*time.Second || d.DPD.Timeout != 150*time.Second || d.LogUnmatched || d.Log.Level != "info" ||
		len(d.Listen) != 2 || d.ControlSocket != "/run/iked/iked.sock" {
		t.Errorf("defaults: %+v", d)
	}
	text := dedent(`
	daemon:
	  listen: ["192.0.2.1"]
	  ike-port: 10500
	  natt-port: 0
	  engine: none
	  control-socket: /tmp/x.sock
	  phase1-lifetime-min: 1m
	  phase2-lifetime-min: 30s
	  half-open-max: 10
	  retransmit: {timeout: 500ms, tries: 3}
	  dpd: {delay: 10s, timeout: 60s}
	  log-unmatched: true
	  log: {level: keys, format: json, syslog: false}
	`)
	p, fs, err = LoadFindings(writePolicy(t, text), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal(err)
	}
	d := p.Daemon
	if d.IKEPort != 10500 || d.NATTPort != 0 || d.Engine != "none" || d.Phase1LifetimeMin != time.Minute || d.Retransmit.Timeout != 500*time.Millisecond ||
		d.Retransmit.Tries != 3 || d.DPD.Delay != 10*time.Second || !d.LogUnmatched || d.Log.Level != "keys" || d.Log.Format != "json" || d.HalfOpenMax != 10 {
		t.Errorf("values: %+v", d)
	}
}

func TestPSKFileMode(t *testing.T) {
	text := base + dedent(`
	connections:
	  c:
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike], auth: psk, psk-file: secrets/c.psk}
	    proposal-list: l
	`)
	path := writePolicy(t, text)
	secret := filepath.Join(filepath.Dir(path), "secrets", "c.psk")
	if err := os.MkdirAll(filepath.Dir(secret), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	p, fs, _ := LoadFindings(path, LoadOptions{})
	if p != nil || len(fs) != 2 || !strings.Contains(fs[0].Text, secret+" has mode 0644: group or others may read it") {
		logFindings(t, fs)
		t.Fatal("a psk-file readable by others must be refused naming the file and its mode")
	}
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	p, fs, _ = LoadFindings(path, LoadOptions{})
	if p == nil {
		logFindings(t, fs)
		t.Fatal("refused with mode 0600")
	}
	c, _ := p.Connection("c")
	if string(c.IKE.PSK) != "from a file" {
		t.Errorf("psk %q", c.IKE.PSK.Bytes())
	}
	if s := c.IKE.PSK.String(); strings.Contains(s, "file") {
		t.Errorf("Secret.String shows the key: %s", s)
	}
}

// TestExpansion checks that a transform's lists expand into the
// alternatives in the order written, and the proposal model.
func TestExpansion(t *testing.T) {
	text := dedent(`
	transforms:
	  ike-default:
	    protocol: isakmp
	    ciphers: [aes128, aes256]
	    hashes: [sha256, sha1]
	    groups: [modp2048, ecp256]
	    lifetime: 8h
	  esp-default:
	    protocol: esp
	    ciphers: [aes128, aes256gcm16]
	    hmacs: [sha256, sha1]
	  ah-sha256: {protocol: ah, hmacs: [sha256]}
	proposals:
	  esp-only: [esp-default]
	  ah-esp: [ah-sha256, esp-default]
	proposal-lists:
	  qm-default: [esp-only, ah-esp]
	connections:
	  branch:
	    local-address: 198.51.100.0/24
	    remote-address: 203.0.113.0/24
	    local-gw: 192.0.2.1
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike-default], auth: psk, psk: "correct horse battery", remote-id: "ipv4:192.0.2.2"}
	    proposal-list: qm-default
	    pfs: modp2048
	`)
	p, fs, err := LoadFindings(writePolicy(t, text), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal("refused")
	}
	c, _ := p.Connection("branch")
	var got []string
	for _, tr := range c.IKE.Transforms {
		got = append(got, tr.String())
	}
	want := "aes128-sha256-modp2048 aes128-sha256-ecp256 aes128-sha1-modp2048 aes128-sha1-ecp256 " +
		"aes256-sha256-modp2048 aes256-sha256-ecp256 aes256-sha1-modp2048 aes256-sha1-ecp256"
	if strings.Join(got, " ") != want {
		t.Errorf("phase 1 alternatives:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if tr := c.IKE.Transforms[4]; tr.Cipher != isakmp.EncAESCBC || tr.KeyLength != 256 || tr.Hash != isakmp.HashSHA2256 || tr.Group != isakmp.GroupMODP2048 || tr.Lifetime != 8*time.Hour {
		t.Errorf("transform 4: %+v", tr)
	}
	if c.IKE.AuthMethod != isakmp.AuthPSK || c.IKE.LocalID.Text != "192.0.2.1" || c.IKE.LocalID.Type != isakmp.IDIPv4Addr {
		t.Errorf("auth %v local id %v", c.IKE.AuthMethod, c.IKE.LocalID)
	}
	l := c.ProposalList
	var props []string
	for _, pr := range l.Proposals {
		var chain []string
		for _, pc := range pr.Protocols {
			var alts []string
			for _, tr := range pc.Transforms {
				alts = append(alts, tr.String())
			}
			chain = append(chain, pc.Protocol.String()+"("+strings.Join(alts, "|")+")")
		}
		props = append(props, pr.Name+"="+strings.Join(chain, "&"))
	}
	wantProps := "esp-only=PROTO_IPSEC_ESP(ESP_AES/128+HMAC-SHA2-256|ESP_AES/128+HMAC-SHA|ESP_AES-GCM_16/256) " +
		"ah-esp=PROTO_IPSEC_AH(AH_SHA2-256+HMAC-SHA2-256)&PROTO_IPSEC_ESP(ESP_AES/128+HMAC-SHA2-256|ESP_AES/128+HMAC-SHA|ESP_AES-GCM_16/256)"
	if strings.Join(props, " ") != wantProps {
		t.Errorf("proposals:\n%s\nwant\n%s", strings.Join(props, " "), wantProps)
	}
	if c.PFS != isakmp.GroupMODP2048 || c.Lifetime != time.Hour || c.Mode() != isakmp.EncapTunnel || c.Initiate != InitiateOnDemand {
		t.Errorf("pfs %v lifetime %v mode %v initiate %v", c.PFS, c.Lifetime, c.Mode(), c.Initiate)
	}
}

func TestAddressForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		form addrForm
	}{
		{"", "any", formRange},
		{"192.0.2.1", "192.0.2.1", formRange},
		{"198.51.100.7/24", "198.51.100.0/24", formRange},
		{"2001:db8::/32", "2001:db8::/32", formRange},
		{"203.0.113.1-203.0.113.9", "203.0.113.1-203.0.113.9", formRange},
		{"203.0.113.0-203.0.113.255", "203.0.113.0/24", formRange},
		{"203.0.113.9-203.0.113.1", "", formBadText},
		{"192.0.2.1-2001:db8::1", "", formBadText},
		{"192.0.2.300", "", formBadText},
		{"gw.example.com", "", formFQDN},
		{"ops@example.com", "", formUser},
		{"not an address", "", formBadText},
	} {
		r, form := parseAddress(tc.in)
		if form != tc.form || (form == formRange && r.String() != tc.want) {
			t.Errorf("parseAddress(%q) = %v %v, want %q %v", tc.in, r, form, tc.want, tc.form)
		}
	}
}

func TestIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  isakmp.IDType
		data string
		bad  bool
	}{
		{"ipv4:192.0.2.1", isakmp.IDIPv4Addr, "\xc0\x00\x02\x01", false},
		{"192.0.2.1", isakmp.IDIPv4Addr, "\xc0\x00\x02\x01", false},
		{"ipv6:2001:db8::1", isakmp.IDIPv6Addr, "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01", false},
		{"fqdn:gw.example.com", isakmp.IDFQDN, "gw.example.com", false},
		{"user-fqdn:ops@example.com", isakmp.IDUserFQDN, "ops@example.com", false},
		{"key-id:0x0102", isakmp.IDKeyID, "\x01\x02", false},
		{"key-id:branch", isakmp.IDKeyID, "branch", false},
		{"ipv4:2001:db8::1", 0, "", true},
		{"fqdn:", 0, "", true},
		{"gw.example.com", 0, "", true},
		{"email:x@y", 0, "", true},
	} {
		id, err := parseID(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && (id.Type != tc.typ || string(id.Data) != tc.data)) {
			t.Errorf("parseID(%q) = %v %x %v", tc.in, id.Type, id.Data, err)
		}
	}
	// A DN goes through pki's encoder and compares with pki.MatchDN.
	id, err := parseID("dn:C=FI, O=Example, CN=gw")
	if err != nil || id.Type != isakmp.IDDERASN1DN {
		t.Fatalf("dn: %v %v", id, err)
	}
	if got := IDFromPayload(isakmp.IDDERASN1DN, id.Data); got.Text != "C=FI, O=Example, CN=gw" || !IDMatches(id, got) {
		t.Errorf("IDFromPayload(dn) = %q, matches %v", got.Text, IDMatches(id, got))
	}
}
