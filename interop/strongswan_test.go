package interop

import (
	"bytes"
	"crypto/rand"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// pskTunnel starts pskPair for a tunnel between net.0/25 behind a and
// net.128/25 behind b (net is the first three octets of a /24), gives each
// host its inner address, has a initiate and waits until both hold the
// IKE SA established.
func pskTunnel(t *testing.T, a, b Host, net string) (ini, resp *Charon, isa, rsa IKESA) {
	t.Helper()
	ini, resp = pskPair(t, a, b,
		Connection{Proposals: "aes128-sha256-modp2048"},
		Child{LocalTS: net + ".0/25", RemoteTS: net + ".128/25", ESPProposals: "aes128-sha256"},
		CharonOptions{LibIPsec: true})
	a.AddAddr(t, net+".1/32")
	b.AddAddr(t, net+".129/32")
	if err := ini.Initiate("c", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	var err error
	if isa, err = ini.WaitIKE("ike", "ESTABLISHED", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if rsa, err = resp.WaitIKE("ike", "ESTABLISHED", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return ini, resp, isa, rsa
}

// bothKeys returns the keys the two charons logged.
func bothKeys(t *testing.T, ini, resp *Charon) (ki, kr *Keys) {
	t.Helper()
	var err error
	if ki, err = ini.Keys(); err != nil {
		t.Fatal(err)
	}
	if kr, err = resp.Keys(); err != nil {
		t.Fatal(err)
	}
	return ki, kr
}

// pskPair starts a strongSwan responder on b and an initiator on a for one
// IKEv1 PSK connection "ike" with child "c", and returns them.
func pskPair(t *testing.T, a, b Host, conn Connection, child Child, opt CharonOptions) (ini, resp *Charon) {
	t.Helper()
	psk := make([]byte, 24)
	rand.Read(psk)
	// The responder sees a behind a NAT under the router's address; IDs
	// stay the real addresses, as they would in a real deployment.
	ro := opt
	rc := conn
	rc.LocalAddrs, rc.RemoteAddrs = b.Addr.String(), "%any"
	rc.LocalID, rc.RemoteID = b.Addr.String(), a.Addr.String()
	rch := child
	rch.LocalTS, rch.RemoteTS = child.RemoteTS, child.LocalTS
	rc.Children = []Child{rch}
	ro.Connections = []Connection{rc}
	ro.Secrets = []Secret{{IDs: []string{a.Addr.String(), b.Addr.String()}, PSK: psk}}
	resp = StartCharon(t, b.NS, ro)

	io := opt
	ic := conn
	ic.LocalAddrs, ic.RemoteAddrs = a.Addr.String(), b.Addr.String()
	ic.LocalID, ic.RemoteID = a.Addr.String(), b.Addr.String()
	ic.Children = []Child{child}
	io.Connections = []Connection{ic}
	io.Secrets = ro.Secrets
	ini = StartCharon(t, a.NS, io)
	return ini, resp
}

// TestStrongSwanMainModePSK proves the harness: two charons in two
// namespaces negotiate Main Mode PSK and Quick Mode, both report the IKE SA
// ESTABLISHED and the child INSTALLED, and the keys parsed from both logs
// are equal. It logs how long the scenario took (CI budget).
func TestStrongSwanMainModePSK(t *testing.T) {
	RequireStrongSwan(t)
	t.Parallel()
	start := time.Now()
	p := NewPair(t)
	ini, resp, isa, rsa := pskTunnel(t, p.A, p.B, "198.51.100")
	if isa.InitiatorSPI != rsa.InitiatorSPI || isa.ResponderSPI != rsa.ResponderSPI || !isa.Initiator || rsa.Initiator {
		t.Errorf("cookies/roles differ: initiator %+v, responder %+v", isa, rsa)
	}
	if isa.EncrAlg != "AES_CBC" || isa.DHGroup != "MODP_2048" {
		t.Errorf("negotiated %s/%s, want AES_CBC/MODP_2048", isa.EncrAlg, isa.DHGroup)
	}
	if len(isa.Children) != 1 || len(rsa.Children) != 1 || isa.Children[0].State != "INSTALLED" ||
		isa.Children[0].SPIIn != rsa.Children[0].SPIOut || isa.Children[0].SPIOut != rsa.Children[0].SPIIn {
		t.Errorf("children: initiator %+v, responder %+v", isa.Children, rsa.Children)
	}
	ki, kr := bothKeys(t, ini, resp)
	if len(ki.IKE) != 1 || len(kr.IKE) != 1 || len(ki.IKE[0].SKEYIDd) != 32 || !bytes.Equal(ki.IKE[0].SKEYIDd, kr.IKE[0].SKEYIDd) {
		t.Fatalf("SKEYID_d: initiator %+v, responder %+v", ki.IKE, kr.IKE)
	}
	if len(ki.Child) != 1 || len(kr.Child) != 1 || len(ki.Child[0].EncI) != 16 ||
		!bytes.Equal(ki.Child[0].EncI, kr.Child[0].EncI) || !bytes.Equal(ki.Child[0].IntegR, kr.Child[0].IntegR) {
		t.Fatalf("child keys: initiator %+v, responder %+v", ki.Child, kr.Child)
	}
	t.Logf("scenario (namespaces, 2 charons, MM+QM, checks) took %v", time.Since(start))
}

// TestStrongSwanThroughNAT runs Main Mode through the router's masquerade:
// both sides must detect the NAT and the responder must see the router's
// address and float to port 4500.
func TestStrongSwanThroughNAT(t *testing.T) {
	RequireStrongSwan(t)
	t.Parallel()
	r := NewRouted(t, RoutedOptions{NAT: true})
	_, _, isa, rsa := pskTunnel(t, r.Left, r.Right, "203.0.113")
	if rsa.RemoteHost != r.RouterRight.String() || rsa.RemotePort != "4500" || !rsa.NATRemote {
		t.Errorf("responder sees %s:%s nat-remote=%v, want %s:4500 behind NAT", rsa.RemoteHost, rsa.RemotePort, rsa.NATRemote, r.RouterRight)
	}
	if !isa.NATLocal {
		t.Errorf("initiator did not detect that it is behind a NAT: %+v", isa)
	}
}

// TestStrongSwanLossyRouter drops a quarter of the IKE packets at the router:
// charon's retransmissions must still bring the SA up, and the router's
// counter shows the loss was real.
func TestStrongSwanLossyRouter(t *testing.T) {
	RequireStrongSwan(t)
	t.Parallel()
	r := NewRouted(t, RoutedOptions{DropPercent: 25})
	ini, resp := pskPair(t, r.Left, r.Right,
		Connection{Proposals: "aes128-sha256-modp2048"},
		Child{LocalTS: "203.0.113.0/25", RemoteTS: "203.0.113.128/25", ESPProposals: "aes128-sha256"},
		CharonOptions{LibIPsec: true, RetransmitTimeout: 500 * time.Millisecond, RetransmitBase: 1.2, RetransmitTries: 10})
	r.Left.AddAddr(t, "203.0.113.1/32")
	r.Right.AddAddr(t, "203.0.113.129/32")
	// swanctl's own wait can end before the last retransmission succeeds.
	_ = ini.Initiate("c", 30*time.Second)
	if _, err := ini.WaitIKE("ike", "ESTABLISHED", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := resp.WaitIKE("ike", "ESTABLISHED", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	n, err := r.Dropped()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("router dropped %d IKE packets", n)
}

// TestIKEScanMainMode runs ike-scan -M against a strongSwan responder: it
// must get the responder's chosen proposal and its DPD vendor ID back.
func TestIKEScanMainMode(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, IKEScanPath)
	t.Parallel()
	p := NewPair(t)
	StartCharon(t, p.B.NS, CharonOptions{
		Connections: []Connection{{
			LocalAddrs: p.B.Addr.String(), RemoteAddrs: p.A.Addr.String(),
			Proposals: "3des-sha1-modp1024, aes128-sha256-modp2048",
			Children:  []Child{{ESPProposals: "aes128-sha256"}},
		}},
		Secrets: []Secret{{IDs: []string{p.A.Addr.String(), p.B.Addr.String()}, PSK: []byte("not used by ike-scan")}},
	})
	res, err := IKEScan(p.A.NS, p.B.Addr.String(), "-M")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Handshake() || !strings.Contains(res.SA, "Enc=3DES Hash=SHA1 Group=2:modp1024 Auth=PSK") {
		t.Fatalf("ike-scan -M: %q SA %q\n%s", res.Outcome, res.SA, res.Raw)
	}
	if !slices.ContainsFunc(res.VIDs, func(v string) bool { return strings.HasPrefix(v, "afcad71368a1f1c96b8696fc77570100") }) {
		t.Errorf("no DPD vendor ID in %q", res.VIDs)
	}
	checkScanTransforms(t, p)
}

// TestNamespaceDo checks that sockets opened in Do live in the namespace:
// B's address exists only there, and A reaches it over the veth.
func TestNamespaceDo(t *testing.T) {
	RequireRoot(t)
	t.Parallel()
	p := NewPair(t)
	var srv, cli *net.UDPConn
	if err := p.B.NS.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.B.Addr, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := p.A.NS.Do(func() (err error) {
		cli, err = net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Write([]byte("it")); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, from, err := srv.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "it" || from.AddrPort().Addr() != p.A.Addr {
		t.Fatalf("read %q from %v: %v", buf[:n], from, err)
	}
	if c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.B.Addr, 0))); err == nil {
		c.Close()
		t.Fatalf("%s is bindable outside its namespace", p.B.Addr)
	}
}

// TestIKEScanAggressivePSKCrack runs ike-scan -A against a strongSwan
// responder and psk-crack over a word list: the real PSK must be found and a
// list without it must find nothing.
func TestIKEScanAggressivePSKCrack(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, IKEScanPath, PSKCrackPath)
	t.Parallel()
	p := NewPair(t)
	psk := "crack-me"
	StartCharon(t, p.B.NS, CharonOptions{
		Connections: []Connection{{
			Aggressive: true, LocalAddrs: p.B.Addr.String(), RemoteAddrs: p.A.Addr.String(),
			Proposals: "3des-sha1-modp1024", LocalID: "responder.example", RemoteID: "scanner.example",
			Children: []Child{{ESPProposals: "aes128-sha256"}},
		}},
		Secrets: []Secret{{IDs: []string{"responder.example", "scanner.example"}, PSK: []byte(psk)}},
	})
	res, found, err := CrackAggressivePSK(t, p.A.NS, p.B.Addr.String(), "scanner.example", []string{"wrong", psk, "also-wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if found != psk || res.ID != "Type=ID_FQDN, Value=responder.example" {
		t.Fatalf("found %q, ID %q; want %q\n%s", found, res.ID, psk, res.Raw)
	}
	_, found, err = CrackAggressivePSK(t, p.A.NS, p.B.Addr.String(), "scanner.example", []string{"wrong", "also-wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if found != "" {
		t.Fatalf("psk-crack matched %q, which is not the PSK", found)
	}
}

// TestNamespaceStart checks that a started process runs inside the
// namespace (it sees only the namespace's addresses) and is stopped.
func TestNamespaceStart(t *testing.T) {
	RequireRoot(t)
	t.Parallel()
	p := NewPair(t)
	proc := p.A.NS.Start(t, []string{"H4_MARK=1"}, "sh", "-c", "ip -4 -o addr show; echo $H4_MARK; exec sleep 30")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(proc.Output(), "\n1\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := proc.Output()
	if !strings.Contains(out, p.A.Addr.String()+"/30") || strings.Contains(out, p.B.Addr.String()+"/") {
		t.Fatalf("process does not see its namespace's addresses:\n%s", out)
	}
	if err := proc.Stop(2 * time.Second); err == nil {
		t.Fatal("sleep 30 ended cleanly; want the SIGTERM exit")
	}
	if done, _ := proc.Exited(); !done {
		t.Fatal("still running after Stop")
	}
}

// checkScanTransforms: the responder on p.B accepts ike-scan's offer of
// AES-128, SHA2-256 and group 14 alone and refuses DES, MD5 and group 1
// with NO-PROPOSAL-CHOSEN.
func checkScanTransforms(t *testing.T, p *Pair) {
	t.Helper()
	res, err := IKEScan(p.A.NS, p.B.Addr.String(), "-M", "--trans=7/128,4,1,14")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Handshake() || !strings.Contains(res.SA, "Enc=AES KeyLength=128 Hash=SHA2-256 Group=14:modp2048") {
		t.Fatalf("ike-scan --trans=7/128,4,1,14: %q SA %q\n%s", res.Outcome, res.SA, res.Raw)
	}
	res, err = IKEScan(p.A.NS, p.B.Addr.String(), "-M", "--trans=1,1,1,1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Handshake() || !strings.Contains(res.Outcome, "NO-PROPOSAL-CHOSEN") {
		t.Fatalf("ike-scan DES-MD5-modp768 got %q, want NO-PROPOSAL-CHOSEN\n%s", res.Outcome, res.Raw)
	}
}
