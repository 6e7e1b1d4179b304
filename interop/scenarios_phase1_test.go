package interop

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// p1Case is one phase 1 scenario: an exchange, an
// authentication, an identity type and one algorithm suite, run with iked
// as responder (strongSwan initiates) and as initiator (`ikectl
// initiate`).
type p1Case struct {
	name       string
	aggressive bool
	auth       string // "psk", "rsa" (2048-bit certificates), "ecdsa" (P-256 certificates)
	ids        string // "ipv4", "ipv6" (the peers talk IPv6 too), "fqdn", "dn"
	swanProp   string // strongSwan's proposal
	// swanSendCert is strongSwan's send_cert with certificates: "always"
	// (the default here) or "ifasked" (iked must send a certificate request).
	swanSendCert string
	ciphers      []string
	hashes       []string
	groups       []string
	// What strongSwan's list-sas must then report.
	encr, keySize, prf, dh string
}

var p1Cases = []p1Case{
	{name: "mm-psk-aes128-sha1-modp1024", auth: "psk", ids: "ipv4", swanProp: "aes128-sha1-modp1024",
		ciphers: []string{"aes128"}, hashes: []string{"sha1"}, groups: []string{"modp1024"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA1", dh: "MODP_1024"},
	{name: "mm-psk-aes256-sha256-modp2048", auth: "psk", ids: "ipv4", swanProp: "aes256-sha256-modp2048",
		ciphers: []string{"aes256"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "256", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-psk-aes128-sha256-ecp256", auth: "psk", ids: "ipv4", swanProp: "aes128-sha256-ecp256",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"ecp256"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "ECP_256"},
	{name: "mm-psk-aes256-sha1-ecp384", auth: "psk", ids: "ipv4", swanProp: "aes256-sha1-ecp384",
		ciphers: []string{"aes256"}, hashes: []string{"sha1"}, groups: []string{"ecp384"},
		encr: "AES_CBC", keySize: "256", prf: "PRF_HMAC_SHA1", dh: "ECP_384"},
	{name: "mm-psk-3des-sha1-modp2048", auth: "psk", ids: "ipv4", swanProp: "3des-sha1-modp2048",
		ciphers: []string{"3des"}, hashes: []string{"sha1"}, groups: []string{"modp2048"},
		encr: "3DES_CBC", prf: "PRF_HMAC_SHA1", dh: "MODP_2048"},
	{name: "mm-psk-3des-sha256-modp2048", auth: "psk", ids: "ipv4", swanProp: "3des-sha256-modp2048",
		ciphers: []string{"3des"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "3DES_CBC", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-psk-fqdn", auth: "psk", ids: "fqdn", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-psk-dn", auth: "psk", ids: "dn", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-psk-ipv6", auth: "psk", ids: "ipv6", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "am-psk-fqdn", aggressive: true, auth: "psk", ids: "fqdn", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-rsa-dn", auth: "rsa", ids: "dn", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "mm-rsa-dn-ifasked", auth: "rsa", ids: "dn", swanProp: "aes256-sha256-modp2048", swanSendCert: "ifasked",
		ciphers: []string{"aes256"}, hashes: []string{"sha256"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "256", prf: "PRF_HMAC_SHA2_256", dh: "MODP_2048"},
	{name: "am-rsa-dn", aggressive: true, auth: "rsa", ids: "dn", swanProp: "aes128-sha1-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha1"}, groups: []string{"modp2048"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA1", dh: "MODP_2048"},
	{name: "mm-ecdsa-p256-fqdn", auth: "ecdsa", ids: "fqdn", swanProp: "aes128-sha256-ecp256",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"ecp256"},
		encr: "AES_CBC", keySize: "128", prf: "PRF_HMAC_SHA2_256", dh: "ECP_256"},
}

// TestIkedPhase1 runs every p1Case in both roles against strongSwan and
// checks both sides (checkEstablished): the IKE SA is ESTABLISHED in
// charon's list-sas with the expected algorithms, iked lists the same SA
// established, and both derived the same SKEYID_d, SKEYID_a and SKEYID_e.
func TestIkedPhase1(t *testing.T) {
	RequireStrongSwan(t)
	for _, tc := range p1Cases {
		for _, ikedInitiates := range []bool{false, true} {
			name := tc.name + "/iked-responder"
			if ikedInitiates {
				name = tc.name + "/iked-initiator"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				s := newP1Setup(t, tc, ikedInitiates)
				s.start(t)
				csa := checkEstablished(t, s.charon, s.iked, 20*time.Second)
				if csa.EncrAlg != tc.encr || (tc.keySize != "" && csa.EncrKeySize != tc.keySize) || csa.PRFAlg != tc.prf || csa.DHGroup != tc.dh {
					t.Errorf("strongSwan negotiated %s/%s %s %s, want %s/%s %s %s", csa.EncrAlg, csa.EncrKeySize, csa.PRFAlg, csa.DHGroup,
						tc.encr, tc.keySize, tc.prf, tc.dh)
				}
				t.Logf("established in %v (strongSwan %s %s <-> %s)", time.Since(start).Round(time.Millisecond), csa.LocalID, csa.RemoteID, csa.RemoteHost)
			})
		}
	}
}

// p1Setup is the two sides of one scenario, configured but not started.
type p1Setup struct {
	pair           *Pair
	swan, ike      Host
	ikedInitiates  bool
	charonOpt      CharonOptions
	ikedPol        IkedPolicy
	charon         *Charon
	iked           *Iked
	psk            string
	swanID, ikedID string // strongSwan's ID text, iked's ("ipv4:..." etc.)
}

// capturePair records the pair's link with dumpcap into
// $INTEROP_PCAP_DIR/<test name>.pcap when that variable is set: the
// datagrams of a failing scenario, for tshark. Off by default.
func capturePair(t *testing.T, p *Pair) {
	dir := os.Getenv("INTEROP_PCAP_DIR")
	if dir == "" {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	proc := p.A.NS.Start(t, nil, "dumpcap", "-q", "-i", p.A.Link, "-w", filepath.Join(dir, name+".pcap"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(proc.Output(), "Capturing on") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// randomPSK returns a fresh printable pre-shared key.
func randomPSK() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "psk-" + hex.EncodeToString(b)
}

// newP1Setup builds the configuration of tc on a new pair: the initiator
// is on A, the responder on B.
func newP1Setup(t *testing.T, tc p1Case, ikedInitiates bool) *p1Setup {
	t.Helper()
	p := NewPair(t)
	capturePair(t, p)
	s := &p1Setup{pair: p, ikedInitiates: ikedInitiates, psk: randomPSK()}
	s.swan, s.ike = p.A, p.B
	if ikedInitiates {
		s.swan, s.ike = p.B, p.A
	}
	const swanName, ikedName = "swan.example", "iked.example"
	swanAddr, ikeAddr := s.swan.Addr.String(), s.ike.Addr.String()
	if tc.ids == "ipv6" {
		// RFC 3849 addresses on the same link, one /64 per pair (the
		// pair's IPv4 /30 numbers it); nodad: usable at once.
		n := s.pair.A.Addr.As4()[3]
		a, b := fmt.Sprintf("2001:db8:4:%x::1", n), fmt.Sprintf("2001:db8:4:%x::2", n)
		p.A.NS.MustRun("ip", "-6", "addr", "add", a+"/64", "dev", p.A.Link, "nodad")
		p.B.NS.MustRun("ip", "-6", "addr", "add", b+"/64", "dev", p.B.Link, "nodad")
		swanAddr, ikeAddr = a, b
		if ikedInitiates {
			swanAddr, ikeAddr = b, a
		}
	}
	var swanLocal, swanRemote, ikedLocal, ikedRemote string
	switch tc.ids {
	case "ipv4", "ipv6":
		swanLocal, swanRemote = swanAddr, ikeAddr
		ikedLocal, ikedRemote = tc.ids+":"+ikeAddr, tc.ids+":"+swanAddr
	case "fqdn":
		swanLocal, swanRemote = swanName, ikedName
		ikedLocal, ikedRemote = "fqdn:"+ikedName, "fqdn:"+swanName
	case "dn":
		swanLocal, swanRemote = "C=CH, O=iked test, CN="+swanName, "C=CH, O=iked test, CN="+ikedName
		ikedLocal, ikedRemote = "dn:"+swanRemote, "dn:"+swanLocal
	default:
		t.Fatalf("unknown ID kind %q", tc.ids)
	}
	s.swanID, s.ikedID = swanLocal, ikedLocal
	conn := Connection{
		Aggressive: tc.aggressive, LocalAddrs: swanAddr, RemoteAddrs: ikeAddr,
		Proposals: tc.swanProp, LocalID: swanLocal, RemoteID: swanRemote,
		Children: []Child{{ESPProposals: "aes128-sha256"}},
	}
	ic := IkedConn{
		LocalGW: ikeAddr, RemoteGW: swanAddr, Aggressive: tc.aggressive,
		Ciphers: tc.ciphers, Hashes: tc.hashes, Groups: tc.groups,
		PSK: s.psk, LocalID: ikedLocal, RemoteID: ikedRemote,
	}
	s.ikedPol = IkedPolicy{Listen: ikeAddr}
	s.charonOpt = CharonOptions{RetransmitTimeout: time.Second, RetransmitTries: 4}
	switch tc.auth {
	case "psk":
		s.charonOpt.Secrets = []Secret{{IDs: []string{swanLocal, swanRemote}, PSK: []byte(s.psk)}}
	case "rsa", "ecdsa":
		size := 2048
		if tc.auth == "ecdsa" {
			size = 256
		}
		pki := MakePKI(t, tc.auth, size, swanName, ikedName)
		conn.LocalAuth, conn.RemoteAuth = "pubkey", "pubkey"
		conn.LocalCert, conn.SendCert = swanName+"-cert.pem", "always"
		if tc.swanSendCert != "" {
			conn.SendCert = tc.swanSendCert
		}
		s.charonOpt.Credentials = Credentials{CACerts: []string{pki.CACert}, Certs: []string{pki.Certs[swanName]}, Keys: []string{pki.Keys[swanName]}}
		ic.Cert, ic.PSK = true, ""
		s.ikedPol.CACert, s.ikedPol.Cert, s.ikedPol.Key = pki.CACert, pki.Certs[ikedName], pki.Keys[ikedName]
	default:
		t.Fatalf("unknown authentication %q", tc.auth)
	}
	s.charonOpt.Connections = []Connection{conn}
	s.ikedPol.Conns = []IkedConn{ic}
	return s
}

// start starts both daemons (the responder first) and has the initiator
// begin phase 1.
func (s *p1Setup) start(t *testing.T) {
	t.Helper()
	if s.ikedInitiates {
		s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
		s.iked = StartIked(t, s.ike.NS, s.ikedPol)
		if err := s.iked.Initiate("peer"); err != nil {
			t.Fatalf("ikectl initiate peer: %v", err)
		}
		return
	}
	s.iked = StartIked(t, s.ike.NS, s.ikedPol)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	initiateIKE(s.charon)
}

// TestIkedProposalChoice: with several phase 1 transforms on offer, the
// responder takes the first of the initiator's that it accepts (RFC 2409,
// 5). iked-responder: strongSwan offers three
// proposals in order and only its second is one iked accepts; iked-
// initiator: iked offers its policy's ciphers x hashes x groups (eight
// transforms) and strongSwan accepts only the last of them.
func TestIkedProposalChoice(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		tc := p1Case{auth: "psk", ids: "ipv4",
			ciphers: []string{"aes128"}, hashes: []string{"sha256", "sha1"}, groups: []string{"modp2048", "ecp256"}}
		want := [3]string{"AES_CBC", "PRF_HMAC_SHA1", "MODP_2048"}
		if ikedInitiates {
			tc.ciphers = []string{"aes256", "aes128"}
			tc.swanProp = "aes128-sha1-ecp256"
			want = [3]string{"AES_CBC", "PRF_HMAC_SHA1", "ECP_256"}
		} else {
			// aes256 is not iked's; aes128-sha1-modp2048 is; so is the
			// third, but the initiator's order decides.
			tc.swanProp = "aes256-sha256-modp2048, aes128-sha1-modp2048, aes128-sha256-ecp256"
		}
		s := newP1Setup(t, tc, ikedInitiates)
		s.start(t)
		sa := checkEstablished(t, s.charon, s.iked, 20*time.Second)
		got := [3]string{sa.EncrAlg, sa.PRFAlg, sa.DHGroup}
		if got != want || sa.EncrKeySize != "128" {
			t.Errorf("negotiated %v/%s, want %v/128", got, sa.EncrKeySize, want)
		}
	})
}
