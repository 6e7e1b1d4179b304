package interop

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// Scenario 12, L2TP/IPsec road warriors (docs/howto-l2tp.md): iked is the
// gateway (xfrm engine, transport mode, NAT-T) with xl2tpd as the LNS;
// two clients, each strongSwan's charon (kernel-netlink, transport mode)
// with xl2tpd as the LAC, sit in two LANs with the same private address
// behind one nftables masquerade router (l2tp_test.go). Client i sends
// L2TP from UDP port 1701+i, the only thing that tells the two apart once
// the NAT has rewritten their addresses (the gateway's selectors are the
// NAT's public address with that port). For each client the L2TP tunnel
// and its PPP session come up through the SAs, and pings cross the PPP
// link both ways; every SA iked installed counts packets.

// l2tpPool is the LNS's PPP side: its own address and the clients'.
const (
	l2tpPPPLocal = "10.2.0.1"
	l2tpPPPRange = "10.2.0.10-10.2.0.20"
)

// startXL2TPD runs xl2tpd in ns (in the foreground, -D) with conf as its
// xl2tpd.conf and pppOpts as the pppd options file it names
// (@PPPOPTS@), everything in a fresh folder of its own.
func startXL2TPD(t *testing.T, ns *Namespace, conf, pppOpts string) (*Process, string) {
	t.Helper()
	// Not t.TempDir: its control fifo path goes into sun_path-like buffers.
	dir, err := os.MkdirTemp("", Prefix+"xl2tpd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "ppp.log")); err == nil {
				t.Logf("pppd log in %s:\n%s", ns.Name, tail(string(b), 40))
			}
		}
		os.RemoveAll(dir)
	})
	opts := filepath.Join(dir, "options")
	pppOpts += "logfile " + filepath.Join(dir, "ppp.log") + "\n"
	conf = strings.ReplaceAll(conf, "@PPPOPTS@", opts)
	for name, text := range map[string]string{"xl2tpd.conf": conf, "options": pppOpts, "l2tp-secrets": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := ns.Start(t, nil, "xl2tpd", "-D", "-c", filepath.Join(dir, "xl2tpd.conf"), "-s", filepath.Join(dir, "l2tp-secrets"),
		"-p", filepath.Join(dir, "xl2tpd.pid"), "-C", filepath.Join(dir, "l2tp-control"))
	return p, dir
}

// pppCommon are the pppd options of both ends: no authentication inside
// the tunnel (IPsec authenticated the peers), no compression, and no
// scripts of this machine's /etc/ppp.
const pppCommon = `noauth
nodefaultroute
noccp
nobsdcomp
nodeflate
novj
mtu 1280
mru 1280
lcp-echo-interval 0
ip-up-script /bin/true
ip-down-script /bin/true
`

// startLNS runs xl2tpd as the LNS on the gateway: PPP addresses from
// l2tpPPPRange, no PPP authentication (IPsec authenticated the peers).
func startLNS(t *testing.T, gw Host) *Process {
	t.Helper()
	p, _ := startXL2TPD(t, gw.NS, fmt.Sprintf(`[global]
listen-addr = %s
port = 1701
access control = no
[lns default]
ip range = %s
local ip = %s
require authentication = no
ppp debug = yes
pppoptfile = @PPPOPTS@
length bit = yes
`, gw.Addr, l2tpPPPRange, l2tpPPPLocal), pppCommon)
	return p
}

// startLAC runs xl2tpd as a LAC on client c, sending L2TP from port to
// the LNS at lns, dialling at once.
func startLAC(t *testing.T, c Host, lns netip.Addr, port int) *Process {
	t.Helper()
	p, _ := startXL2TPD(t, c.NS, fmt.Sprintf(`[global]
port = %d
access control = no
[lac gw]
lns = %s
autodial = yes
redial = no
require authentication = no
ppp debug = yes
pppoptfile = @PPPOPTS@
length bit = yes
`, port, lns), pppCommon+"noipdefault\nipcp-accept-local\nipcp-accept-remote\n")
	return p
}

// pingPPP pings the LNS from the client over its PPP link, and the client
// from the gateway over the gateway's PPP link to it, and returns the
// summary; both must get answers.
func pingPPP(t *testing.T, name string, client, gw Host, my pppLink, gwLinks []pppLink) (string, bool) {
	t.Helper()
	sent, got, err := client.Ping(my.Local, my.Peer, 10, 200*time.Millisecond)
	if err != nil {
		t.Errorf("%s: %v", name, err)
	}
	var back, backOK int
	for _, g := range gwLinks {
		if g.Peer == my.Local {
			back, backOK, err = gw.Ping(g.Local, g.Peer, 10, 200*time.Millisecond)
			if err != nil {
				t.Errorf("gateway to %s: %v", name, err)
			}
		}
	}
	ok := got > 0 && backOK > 0
	if !ok {
		t.Errorf("%s (PPP %s): ping to the LNS %d/%d, from it %d/%d", name, my.Local, got, sent, backOK, back)
	}
	return fmt.Sprintf("ping %d/%d out %d/%d back", got, sent, backOK, back), ok
}

// ikedSAPackets checks that every SA in ns carried packets since before
// (and is UDP-encapsulated), and lists the counts.
func ikedSAPackets(t *testing.T, ns *Namespace, before []KernelSA, want int, check bool) string {
	t.Helper()
	after, err := ns.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, sa := range after {
		var was uint64
		for _, b := range before {
			if b.SPI == sa.SPI && b.Dst == sa.Dst {
				was = b.Packets
			}
		}
		counts = append(counts, fmt.Sprintf("%s:%d", sa, sa.Packets-was))
		if sa.Packets == was && check {
			t.Errorf("iked's SA %s carried no packet of the pings", sa)
		}
		if !sa.Encap {
			t.Errorf("iked's SA %s is not UDP-encapsulated", sa)
		}
	}
	if len(after) != want {
		t.Errorf("iked's kernel has %d SAs, want %d: %v", len(after), want, after)
	}
	return strings.Join(counts, " ")
}

// pppLink is one PPP interface: its address and the peer's.
type pppLink struct {
	Name        string
	Local, Peer netip.Addr
}

var pppAddrRE = regexp.MustCompile(`^\d+:\s+(ppp\d+)\s+inet (\S+) peer (\S+?)/\d+`)

// pppLinks lists the namespace's PPP interfaces that have addresses.
func pppLinks(ns *Namespace) []pppLink {
	out, _ := ns.Run("ip", "-4", "-o", "addr", "show")
	var links []pppLink
	for _, l := range strings.Split(out, "\n") {
		m := pppAddrRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		local, err1 := netip.ParseAddr(m[2])
		peer, err2 := netip.ParseAddr(m[3])
		if err1 == nil && err2 == nil {
			links = append(links, pppLink{Name: m[1], Local: local, Peer: peer})
		}
	}
	return links
}

// waitPPP waits until ns has n PPP links up.
func waitPPP(t *testing.T, ns *Namespace, n int, timeout time.Duration, logs func() string) []pppLink {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if links := pppLinks(ns); len(links) >= n {
			return links
		}
		if time.Now().After(deadline) {
			out, _ := ns.Run("ip", "addr")
			t.Fatalf("%s: %d PPP links after %v, want %d:\n%s\n%s", ns.Name, len(pppLinks(ns)), timeout, n, out, logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestKernelL2TP: scenario 12 (see above).
func TestKernelL2TP(t *testing.T) {
	requireKernel(t)
	RequireRoot(t, "xl2tpd", "pppd")
	t.Parallel()
	line := "did not come up"
	defer func() { report(t, "12/l2tp-two-clients-one-nat", line) }()
	start := time.Now()
	l := newL2TPNet(t, 2)
	gwNS := l.Gateway.NS
	psk := randomPSK()
	before := kernelState(t, gwNS)
	iked := startIkedYAML(t, gwNS, func(sock string) string {
		return l2tpGatewayPolicy(l.Gateway.Addr, sock, psk, "xfrm")
	})
	lns := startLNS(t, l.Gateway)

	var charons []*Charon
	var lacs []*Process
	for i, c := range l.Clients {
		port := l2tpPort(i)
		ts := fmt.Sprintf("dynamic[udp/%d]", port)
		charons = append(charons, StartCharon(t, c.NS, CharonOptions{
			RetransmitTimeout: time.Second, RetransmitTries: 4, Plugins: kernelPlugins,
			Connections: []Connection{{
				RemoteAddrs: l.Gateway.Addr.String(), Proposals: "aes128-sha256-modp2048",
				LocalID: c.Addr.String(), RemoteID: l.Gateway.Addr.String(),
				Children: []Child{{LocalTS: ts, RemoteTS: "dynamic[udp/1701]", Mode: "transport",
					ESPProposals: "aes128-sha256", LifeTime: time.Hour}},
			}},
			Secrets: []Secret{{IDs: []string{c.Addr.String(), l.Gateway.Addr.String()}, PSK: []byte(psk)}},
		}))
		if err := charons[i].Initiate("c", 60*time.Second); err != nil {
			t.Fatalf("client %d: swanctl --initiate: %v\niked:\n%s", i+1, err, iked.catalogSummary())
		}
	}
	checkL2TPSelectors(t, iked, l, len(l.Clients))
	state, _ := gwNS.Run("ip", "xfrm", "state")
	policies, _ := gwNS.Run("ip", "xfrm", "policy")
	for i := range l.Clients {
		if want := fmt.Sprintf("sport 1701 dport %d", l2tpPort(i)); !strings.Contains(policies, want) {
			t.Errorf("no kernel policy of the gateway has %q:\n%s", want, policies)
		}
	}
	if want := "addr " + l2tpPrivate.String(); !strings.Contains(state, want) {
		t.Errorf("the gateway's SAs do not carry the clients' original address (%q):\n%s", want, state)
	}
	if strings.Contains(policies, l2tpPrivate.String()) {
		t.Errorf("a kernel policy of the gateway names the clients' private address:\n%s", policies)
	}
	up := time.Since(start)

	for i, c := range l.Clients {
		lacs = append(lacs, startLAC(t, c, l.Gateway.Addr, l2tpPort(i)))
	}
	logs := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "LNS xl2tpd:\n%s\n", tail(lns.Output(), 30))
		for i, p := range lacs {
			fmt.Fprintf(&b, "client %d xl2tpd:\n%s\n", i+1, tail(p.Output(), 30))
		}
		return b.String()
	}
	var results []string
	gwLinks := waitPPP(t, gwNS, len(l.Clients), 90*time.Second, logs)
	beforeSAs, err := gwNS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	pingsOK := true
	for i, c := range l.Clients {
		my := waitPPP(t, c.NS, 1, 60*time.Second, logs)[0]
		r, ok := pingPPP(t, fmt.Sprintf("client %d (L2TP port %d)", i+1, l2tpPort(i)), c, l.Gateway, my, gwLinks)
		pingsOK = pingsOK && ok
		results = append(results, fmt.Sprintf("client %d (L2TP port %d, PPP %s): %s", i+1, l2tpPort(i), my.Local, r))
	}
	counts := ikedSAPackets(t, gwNS, beforeSAs, 2*len(l.Clients), pingsOK)
	line = fmt.Sprintf("%s; SA packets %s (IPsec up in %v, all in %v)", strings.Join(results, "; "),
		counts, up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("gateway ip xfrm state:\n%s\npolicy:\n%s\n%s", state, policies, logs())
	}
	for _, p := range append(lacs, lns) {
		p.Stop(5 * time.Second)
	}
	for _, c := range charons {
		c.Stop()
	}
	if err := iked.Proc.Stop(10 * time.Second); err != nil {
		t.Errorf("iked did not stop cleanly: %v", err)
	}
	if after := kernelState(t, gwNS); after != before {
		t.Errorf("iked left kernel state after SIGTERM:\n%s", after)
	}
}

// TestKernelL2TPClient: scenario 13, the other role. iked (xfrm engine)
// is the L2TP/IPsec client behind the NAT, in transport mode for its UDP
// port 1701, against strongSwan's charon as the gateway (kernel-netlink),
// with xl2tpd on both sides. strongSwan answers Quick Mode with the
// addresses as it sees them (the NAT's public one for iked); iked must
// take that answer and keep its own view in its kernel: its private
// address and the gateway's, with the gateway's NAT-OA as the original
// address. The PPP session comes up and pings cross it both ways.
func TestKernelL2TPClient(t *testing.T) {
	requireKernel(t)
	RequireRoot(t, "xl2tpd", "pppd")
	t.Parallel()
	line := "did not come up"
	defer func() { report(t, "13/l2tp-iked-client-behind-nat", line) }()
	start := time.Now()
	l := newL2TPNet(t, 1)
	client, gw := l.Clients[0], l.Gateway
	psk := randomPSK()
	charon := StartCharon(t, gw.NS, CharonOptions{
		RetransmitTimeout: time.Second, RetransmitTries: 4, Plugins: kernelPlugins,
		Connections: []Connection{{
			LocalAddrs: gw.Addr.String(), RemoteAddrs: "%any", Proposals: "aes128-sha256-modp2048",
			LocalID: gw.Addr.String(), RemoteID: client.Addr.String(),
			Children: []Child{{LocalTS: "dynamic[udp/1701]", RemoteTS: "dynamic[udp/1701]", Mode: "transport",
				ESPProposals: "aes128-sha256", LifeTime: time.Hour}},
		}},
		Secrets: []Secret{{IDs: []string{client.Addr.String(), gw.Addr.String()}, PSK: []byte(psk)}},
	})
	ns := client.NS
	before := kernelState(t, ns)
	iked := startIkedYAML(t, ns, func(sock string) string {
		return l2tpClientPolicy(client.Addr, gw.Addr, sock, psk, "xfrm", 1701)
	})
	if _, _, err := waitChild(charon, 60*time.Second); err != nil {
		t.Fatalf("strongSwan: %v\niked:\n%s", err, iked.catalogSummary())
	}
	var child control.ChildSA
	deadline := time.Now().Add(30 * time.Second)
	for child.Conn == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no IPsec SA in iked\n%s", iked.catalogSummary())
		}
		time.Sleep(200 * time.Millisecond)
		sas, err := iked.ListSAs()
		if err != nil {
			t.Fatal(err)
		}
		for _, sa := range sas {
			for _, ch := range sa.Children {
				child = ch
			}
		}
	}
	if child.LocalTS != client.Addr.String()+"/32[udp/1701]" || child.RemoteTS != gw.Addr.String()+"/32[udp/1701]" ||
		!strings.HasSuffix(child.Encap, " oa "+gw.Addr.String()) {
		t.Errorf("iked's bundle: %s <-> %s, encap %q; want its private address, the gateway's and the gateway's original address",
			child.LocalTS, child.RemoteTS, child.Encap)
	}
	up := time.Since(start)
	lns := startLNS(t, gw)
	lac := startLAC(t, client, gw.Addr, 1701)
	logs := func() string {
		return fmt.Sprintf("LNS xl2tpd:\n%s\nclient xl2tpd:\n%s\n", tail(lns.Output(), 30), tail(lac.Output(), 30))
	}
	gwLinks := waitPPP(t, gw.NS, 1, 90*time.Second, logs)
	my := waitPPP(t, ns, 1, 60*time.Second, logs)[0]
	beforeSAs, err := ns.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := pingPPP(t, "iked's client", client, gw, my, gwLinks)
	counts := ikedSAPackets(t, ns, beforeSAs, 2, ok)
	line = fmt.Sprintf("PPP %s: %s; iked's SA packets %s (IPsec up in %v, all in %v)", my.Local, r, counts,
		up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		st, _ := ns.Run("ip", "xfrm", "state")
		po, _ := ns.Run("ip", "xfrm", "policy")
		t.Logf("iked's ip xfrm state:\n%s\npolicy:\n%s\n%s", st, po, logs())
	}
	for _, p := range []*Process{lac, lns} {
		p.Stop(5 * time.Second)
	}
	if err := iked.Proc.Stop(10 * time.Second); err != nil {
		t.Errorf("iked did not stop cleanly: %v", err)
	}
	if after := kernelState(t, ns); after != before {
		t.Errorf("iked left kernel state after SIGTERM:\n%s", after)
	}
}
