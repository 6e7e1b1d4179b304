package interop

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kernel data-plane scenarios: iked with the xfrm engine installs its SAs
// in the kernel of its namespace and they carry traffic (ping, TCP and UDP,
// both ways) to strongSwan's charon with kernel-netlink in the other. The
// proof is threefold: the traffic arrives, the kernel's per-SA counters of
// every SA iked installed rise, and a capture of iked's link shows nothing
// but IKE and IPsec. They need a kernel with ESP, AH and IPComp:
// scripts/kernel-test.sh boots one in a VM and sets IKED_KERNEL_TEST there.
// Each scenario writes one summary line to $KT_LOGS/scenario-NAME.txt and
// its capture next to it.

func requireKernel(t *testing.T) {
	t.Helper()
	if os.Getenv("IKED_KERNEL_TEST") == "" {
		t.Skip("interop: kernel data-plane scenario: runs in the VM of scripts/kernel-test.sh (IKED_KERNEL_TEST), where the kernel has ESP")
	}
	RequireStrongSwan(t)
}

// kernelCase is one scenario of iked against charon.
type kernelCase struct {
	name      string
	ikedInit  bool   // iked initiates (ikectl initiate); else charon does
	swanESP   string // charon's esp_proposals ("" with AH alone)
	swanAH    string // charon's ah_proposals
	ipcomp    bool
	qm        string // iked's Quick Mode transforms, YAML lines under transforms:
	chain     string // iked's proposal, e.g. "[esp]" or "[ah, esp]"
	pfs       string // iked's pfs; charon's proposals name the same group
	transport bool
	v6        bool
	// respondOnly: only charon initiates.
	respondOnly bool
}

const (
	qmESPCBC = "  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\n"
	qmESPGCM = "  esp: {protocol: esp, ciphers: [aes128gcm16], hmacs: [none]}\n"
	qmAH     = "  ah: {protocol: ah, hmacs: [sha256]}\n"
	qmComp   = "  comp: {protocol: ipcomp, compression: [deflate]}\n"
)

// kernelPlugins are the strongSwan plugins the scenarios use.
const kernelPlugins = "random nonce openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 pkcs8 x509 pubkey kernel-netlink socket-default vici"

// kernelSetup is a scenario's topology and daemons: iked on host A, charon
// on host B of a Pair.
type kernelSetup struct {
	tc                  kernelCase
	pair                *Pair
	ike, swan           Host
	ikeOuter, swanOuter netip.Addr // the IKE peers (tunnel endpoints)
	ikeIn, swanIn       netip.Addr // where the protected traffic starts and ends
	ikeNet, swanNet     netip.Prefix
	psk                 string
	charon              *Charon
	iked                *Iked
	ikedPolicy          func(sock string) string
	copt                CharonOptions
	peer                string // the peer's name in capture files: "swan" unless set
	unlisted            bool   // iked's SAs are not Quick Mode's, and list-sas lists none (manual keys)
}

func newKernelSetup(t *testing.T, tc kernelCase) *kernelSetup {
	t.Helper()
	p := NewPair(t)
	s := &kernelSetup{tc: tc, pair: p, ike: p.A, swan: p.B, ikeOuter: p.A.Addr, swanOuter: p.B.Addr, psk: randomPSK()}
	if tc.v6 {
		id := nextID()
		s.ikeOuter = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", id))
		s.swanOuter = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::2", id))
		s.ike.NS.MustRun("ip", "addr", "add", s.ikeOuter.String()+"/64", "dev", s.ike.Link, "nodad")
		s.swan.NS.MustRun("ip", "addr", "add", s.swanOuter.String()+"/64", "dev", s.swan.Link, "nodad")
	}
	switch {
	case tc.transport:
		s.ikeIn, s.swanIn = s.ikeOuter, s.swanOuter
		s.ikeNet = netip.PrefixFrom(s.ikeIn, s.ikeIn.BitLen())
		s.swanNet = netip.PrefixFrom(s.swanIn, s.swanIn.BitLen())
	case tc.v6:
		s.ikeNet, s.swanNet = netip.MustParsePrefix("2001:db8:ffff:2::/64"), netip.MustParsePrefix("2001:db8:ffff:1::/64")
		s.ikeIn, s.swanIn = netip.MustParseAddr("2001:db8:ffff:2::1"), netip.MustParseAddr("2001:db8:ffff:1::1")
	default:
		s.ikeNet, s.swanNet = netip.MustParsePrefix("203.0.113.128/25"), netip.MustParsePrefix("203.0.113.0/25")
		s.ikeIn, s.swanIn = netip.MustParseAddr("203.0.113.129"), netip.MustParseAddr("203.0.113.1")
	}
	if !tc.transport {
		// The inner addresses live on the hosts; each routes the other's
		// subnet to the peer, with its inner address as the source.
		bits := "/32"
		if tc.v6 {
			bits = "/128"
		}
		s.ike.NS.MustRun("ip", "addr", "add", s.ikeIn.String()+bits, "dev", "lo")
		s.swan.NS.MustRun("ip", "addr", "add", s.swanIn.String()+bits, "dev", "lo")
		s.ike.NS.MustRun("ip", "route", "add", s.swanNet.String(), "via", s.swanOuter.String(), "src", s.ikeIn.String())
		s.swan.NS.MustRun("ip", "route", "add", s.ikeNet.String(), "via", s.ikeOuter.String(), "src", s.swanIn.String())
	}
	child := Child{ESPProposals: tc.swanESP, AHProposals: tc.swanAH, IPComp: tc.ipcomp, LifeTime: time.Hour}
	if tc.transport {
		child.Mode = "transport"
	} else {
		child.LocalTS, child.RemoteTS = s.swanNet.String(), s.ikeNet.String()
	}
	s.charonOpt(child)
	s.ikedPolicy = func(sock string) string { return s.policy(sock, "never", "66m", "") }
	return s
}

// charonOpt writes charon's configuration for start.
func (s *kernelSetup) charonOpt(child Child) {
	s.copt = CharonOptions{
		RetransmitTimeout: time.Second, RetransmitTries: 4,
		Plugins: kernelPlugins,
		Connections: []Connection{{
			LocalAddrs: s.swanOuter.String(), RemoteAddrs: s.ikeOuter.String(), Proposals: "aes128-sha256-modp2048",
			LocalID: s.swanOuter.String(), RemoteID: s.ikeOuter.String(),
			Children: []Child{child},
		}},
		Secrets: []Secret{{IDs: []string{s.swanOuter.String(), s.ikeOuter.String()}, PSK: []byte(s.psk)}},
	}
}

// policy is iked's policy file for the scenario; extra goes at the end of
// the connection.
func (s *kernelSetup) policy(sock, initiate, lifetime, extra string) string {
	tc := s.tc
	idType := "ipv4"
	if tc.v6 {
		idType = "ipv6"
	}
	gws := ""
	if !tc.transport {
		gws = fmt.Sprintf("    local-gw: %s\n    remote-gw: %s\n", s.ikeOuter, s.swanOuter)
	}
	local, remote := s.ikeNet.String(), s.swanNet.String()
	if tc.transport {
		local, remote = s.ikeIn.String(), s.swanIn.String()
	}
	return fmt.Sprintf(`# generated by interop/kernel_test.go
daemon:
  listen: [%[1]q]
  engine: xfrm
  control-socket: %[2]q
  retransmit: {timeout: 1s, tries: 4}
  phase2-lifetime-min: 1s
  log: {level: info, format: json}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
%[3]sproposals:
  p: %[4]s
proposal-lists:
  l: [p]
connections:
  peer:
    local-address: %[5]s
    remote-address: %[6]s
%[7]s    initiate: %[8]s
    ike: {mode: main, transforms: [ike], auth: psk, psk: %[9]q, local-id: "%[10]s:%[1]s", remote-id: "%[10]s:%[11]s"}
    proposal-list: l
    pfs: %[12]s
    lifetime: %[13]s
%[14]s`, s.ikeOuter, sock, tc.qm, tc.chain, local, remote, gws, initiate, s.psk, idType, s.swanOuter, tc.pfs, lifetime, extra)
}

// start runs both daemons (the responder first) and brings the SAs up.
// startQuiet starts charon, then iked, and lets them be: an on-demand
// policy waits for traffic.
func (s *kernelSetup) startQuiet(t *testing.T) {
	t.Helper()
	s.charon = StartCharon(t, s.swan.NS, s.copt)
	s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
}

func (s *kernelSetup) start(t *testing.T) {
	t.Helper()
	opt := s.copt
	t0 := time.Now()
	defer func() { t.Logf("up in %v", time.Since(t0).Round(time.Millisecond)) }()
	if s.tc.ikedInit {
		s.charon = StartCharon(t, s.swan.NS, opt)
		t.Logf("charon started in %v", time.Since(t0).Round(time.Millisecond))
		s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
		t.Logf("iked started in %v", time.Since(t0).Round(time.Millisecond))
		if err := s.iked.Initiate("peer"); err != nil {
			t.Fatalf("ikectl initiate: %v\n%s", err, s.iked.catalogSummary())
		}
	} else {
		s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
		s.charon = StartCharon(t, s.swan.NS, opt)
		if err := s.charon.Initiate("c", 30*time.Second); err != nil {
			t.Fatalf("swanctl --initiate: %v\niked:\n%s", err, s.iked.catalogSummary())
		}
	}
	if _, _, err := waitChild(s.charon, 30*time.Second); err != nil {
		t.Fatalf("strongSwan: %v\niked:\n%s", err, s.iked.catalogSummary())
	}
	if _, err := s.waitIkedSAs(len(s.protocols())*2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// protocols are the kernel's names of the SAs of one bundle: iked's
// proposal names its transforms after the protocols (esp, ah, comp).
func (s *kernelSetup) protocols() []string {
	var ps []string
	for _, f := range strings.FieldsFunc(s.tc.chain, func(r rune) bool { return r == '[' || r == ']' || r == ',' || r == ' ' }) {
		ps = append(ps, f)
	}
	return ps
}

// waitIkedSAsGone waits up to timeout until iked's namespace holds no SA;
// it returns the SAs still there at the deadline, none once they are gone.
func (s *kernelSetup) waitIkedSAsGone(t *testing.T, timeout time.Duration) []KernelSA {
	t.Helper()
	var sas []KernelSA
	Poll(timeout, 100*time.Millisecond, func() bool {
		var err error
		if sas, err = s.ike.NS.XfrmStates(); err != nil {
			t.Fatal(err)
		}
		return len(sas) == 0
	})
	return sas
}

// waitIkedSAs waits until iked's namespace has n SAs with a key (not larval
// SPI reservations: those have mode and algorithms but no reqid-matched
// peer yet, so count SAs in both directions between the peers).
func (s *kernelSetup) waitIkedSAs(n int, timeout time.Duration) ([]KernelSA, error) {
	deadline := time.Now().Add(timeout)
	for {
		sas, err := s.ike.NS.XfrmStates()
		if err != nil {
			return nil, err
		}
		var in, out int
		for _, sa := range sas {
			if sa.Src == s.ikeOuter && sa.Dst == s.swanOuter {
				out++
			}
			if sa.Src == s.swanOuter && sa.Dst == s.ikeOuter {
				in++
			}
		}
		if in+out >= n && out > 0 {
			return sas, nil
		}
		if time.Now().After(deadline) {
			return sas, fmt.Errorf("iked's kernel has %d SAs after %v, want %d: %v\niked:\n%s", len(sas), timeout, n, sas, s.iked.catalogSummary())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// trafficResult is what one round of traffic did.
type trafficResult struct {
	pingOut, pingOutOK, pingIn, pingInOK int
	tcpBytes                             int
	udpSent, udpThere, udpBack           int
	wire                                 map[string]int
	clear                                []string
	delta                                map[string]uint64 // packets per iked SA
	failed                               uint32
}

// lost is the traffic that did not arrive.
func (r trafficResult) lost() int {
	return (r.pingOut - r.pingOutOK) + (r.pingIn - r.pingInOK) + (r.udpSent - r.udpBack)
}

func (r trafficResult) String() string {
	keys := make([]string, 0, len(r.delta))
	for k := range r.delta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sas []string
	for _, k := range keys {
		sas = append(sas, fmt.Sprintf("%s:%d", k, r.delta[k]))
	}
	return fmt.Sprintf("ping %d/%d out %d/%d in, tcp %d B each way, udp %d sent %d there %d back; SA packets %s; wire esp %d ah %d nat-t %d ike %d clear %d; lost %d",
		r.pingOutOK, r.pingOut, r.pingInOK, r.pingIn, r.tcpBytes, r.udpSent, r.udpThere, r.udpBack,
		strings.Join(sas, " "), r.wire["esp"], r.wire["ah"], r.wire["nat-t"], r.wire["ike"], r.wire["clear"], r.lost())
}

// traffic sends ping both ways, a TCP transfer and UDP datagrams through
// the SAs, capturing iked's link, and checks that every SA iked installed
// counted packets and that nothing crossed the link in clear.
func (s *kernelSetup) traffic(t *testing.T, capName string) trafficResult {
	t.Helper()
	before, err := s.ike.NS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	capt := s.captureLink(t)
	var r trafficResult
	r.pingOut, r.pingOutOK, err = s.ike.Ping(s.ikeIn, s.swanIn, 10, 100*time.Millisecond)
	if err != nil {
		t.Error(err)
	}
	r.pingIn, r.pingInOK, err = s.swan.Ping(s.swanIn, s.ikeIn, 10, 100*time.Millisecond)
	if err != nil {
		t.Error(err)
	}
	r.tcpBytes = 64 << 10
	if err := TCPTransfer(s.ike, s.swan, s.ikeIn, s.swanIn, r.tcpBytes); err != nil {
		t.Errorf("tcp iked -> strongSwan: %v", err)
		r.tcpBytes = 0
	}
	r.udpSent = 30
	r.udpThere, r.udpBack, err = UDPExchange(s.swan, s.ike, s.swanIn, s.ikeIn, r.udpSent, 1200, 5*time.Millisecond)
	if err != nil {
		t.Error(err)
	}
	peer := s.peer
	if peer == "" {
		peer = "swan"
	}
	r.wire, r.clear = capt.stop(t, capName, peer)
	after, err := s.ike.NS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	r.delta = map[string]uint64{}
	for _, sa := range after {
		dir := "out"
		if sa.Dst == s.ikeOuter {
			dir = "in"
		}
		var was uint64
		for _, b := range before {
			if b.Proto == sa.Proto && b.SPI == sa.SPI && b.Dst == sa.Dst {
				was = b.Packets
			}
		}
		key := sa.Proto + "-" + dir
		r.delta[key] += sa.Packets - was
		r.failed += sa.Failed
	}
	for _, p := range s.protocols() {
		for _, dir := range []string{"out", "in"} {
			if r.delta[p+"-"+dir] == 0 {
				t.Errorf("iked's %s %s SA carried no packet; kernel SAs:\n%v", p, dir, after)
			}
		}
	}
	if r.failed != 0 {
		t.Errorf("%d packets failed integrity checks", r.failed)
	}
	if !s.unlisted {
		s.listedBytes(t, after)
	}
	if r.wire["clear"] != 0 {
		t.Errorf("%d frames crossed the link outside IPsec, first: %q", r.wire["clear"], r.clear)
	}
	if r.pingOutOK == 0 || r.pingInOK == 0 || r.udpBack == 0 {
		t.Errorf("traffic did not pass: %s", r)
	}
	if t.Failed() {
		for _, h := range []Host{s.ike, s.swan} {
			st, _ := h.NS.Run("ip", "-s", "xfrm", "state")
			xs, _ := h.NS.Run("cat", "/proc/net/xfrm_stat")
			t.Logf("%s: ip -s xfrm state:\n%s\n/proc/net/xfrm_stat (non-zero):\n%s", h.NS.Name, st, nonZero(xs))
		}
	}
	return r
}

// listedBytes checks that ikectl list-sas gives each of iked's ESP and AH
// SAs the byte counter the kernel gave it in after (read once the traffic
// was over; an SA may count a late packet since, never fewer bytes), and
// that each SA that carried traffic shows it.
func (s *kernelSetup) listedBytes(t *testing.T, after []KernelSA) {
	t.Helper()
	list, err := s.iked.ListSAs()
	if err != nil {
		t.Errorf("list-sas: %v", err)
		return
	}
	kernel := map[string]uint64{}
	for _, sa := range after {
		kernel[fmt.Sprintf("%s 0x%08x %s", sa.Proto, sa.SPI, sa.Dst)] = sa.Bytes
	}
	counted := 0
	for _, sa := range list {
		for _, ch := range sa.Children {
			for _, l := range ch.SAs {
				key := l.Protocol + " " + l.SPI + " " + l.Dst
				want, ok := kernel[key]
				switch {
				case l.Protocol == "comp":
					if l.Bytes != nil {
						t.Errorf("list-sas: %s shows %d bytes; IPComp's counters are not the traffic's", key, *l.Bytes)
					}
				case l.Bytes == nil:
					t.Errorf("list-sas: %s %s has no byte counter", l.Direction, key)
				case !ok || *l.Bytes < want || *l.Bytes == 0:
					t.Errorf("list-sas: %s %s: %d bytes, the kernel counted %d after the traffic (%v)", l.Direction, key, *l.Bytes, want, ok)
				default:
					counted++
				}
			}
		}
	}
	if counted == 0 {
		t.Errorf("list-sas listed no SA with its byte counter: %+v", list)
	}
}

// nonZero keeps the lines of /proc/net/xfrm_stat whose counter is not 0.
func nonZero(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] != "0" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// report writes the scenario's summary line.
// linkCapture captures both ends' outgoing frames: everything on the link.
type linkCapture struct{ ike, swan *Capture }

func (s *kernelSetup) captureLink(t *testing.T) linkCapture {
	t.Helper()
	ike, err := s.ike.NS.StartCapture(s.ike.Link)
	if err != nil {
		t.Fatal(err)
	}
	swan, err := s.swan.NS.StartCapture(s.swan.Link)
	if err != nil {
		ike.Stop("")
		t.Fatal(err)
	}
	return linkCapture{ike, swan}
}

// stop ends the captures once the last frames have reached them, keeps
// them under $KT_LOGS as scenario-<name>-iked-sent.pcap and
// scenario-<name>-<peer>-sent.pcap, and returns the frames of both by
// kind and those that crossed in clear.
func (c linkCapture) stop(t *testing.T, name, peer string) (map[string]int, []string) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	var pcap, pcap2 string
	if dir := os.Getenv("KT_LOGS"); dir != "" {
		pcap = filepath.Join(dir, "scenario-"+name+"-iked-sent.pcap")
		pcap2 = filepath.Join(dir, "scenario-"+name+"-"+peer+"-sent.pcap")
	}
	if err := errors.Join(c.ike.Stop(pcap), c.swan.Stop(pcap2)); err != nil {
		t.Error(err)
	}
	wire, clear := c.ike.Counts()
	w2, c2 := c.swan.Counts()
	for k, v := range w2 {
		wire[k] += v
	}
	return wire, append(clear, c2...)
}

// newInitiatorSetup is the first kernel case with iked initiating.
func newInitiatorSetup(t *testing.T) *kernelSetup {
	tc := kernelCases[0]
	tc.ikedInit = true
	return newKernelSetup(t, tc)
}

// kernelScenario begins the test of scenario name in the VM: it needs the
// kernel (requireKernel), runs in parallel, and reports *line, the
// scenario's figure, once the test and its clean-ups have ended.
func kernelScenario(t *testing.T, name string) *string {
	requireKernel(t)
	t.Parallel()
	line := "did not come up"
	t.Cleanup(func() { report(t, name, line) })
	return &line
}

func report(t *testing.T, name, line string) {
	t.Helper()
	t.Logf("KT %s: %s", name, line)
	if dir := os.Getenv("KT_LOGS"); dir != "" {
		status := "ok"
		if t.Failed() {
			status = "FAIL"
		}
		f := filepath.Join(dir, "scenario-"+strings.ReplaceAll(name, "/", "_")+".txt")
		old, _ := os.ReadFile(f)
		os.WriteFile(f, append(old, fmt.Sprintf("KT %-4s %s: %s\n", status, name, line)...), 0o644)
	}
}

// kernelState is the namespace's SAD and SPD as text, for before/after
// comparisons (the kernel lists them in a stable order).
func kernelState(t *testing.T, ns *Namespace) string {
	t.Helper()
	st := ns.MustRun("ip", "xfrm", "state")
	po := ns.MustRun("ip", "xfrm", "policy")
	return st + po
}

// peerDeletes has charon delete the child SA: its Delete must reach iked
// in clear (in transport mode too, where iked's policies cover the two
// hosts' IKE traffic unless its sockets bypass them), and iked must remove
// the bundle's SAs from its kernel.
func (s *kernelSetup) peerDeletes(t *testing.T) {
	t.Helper()
	if err := s.charon.TerminateChild("c", 20*time.Second); err != nil {
		t.Errorf("swanctl --terminate --child: %v", err)
		return
	}
	if _, err := s.iked.WaitCatalog(62, 20*time.Second); err != nil {
		t.Errorf("iked did not act on charon's Delete: %v", err)
		return
	}
	if sas := s.waitIkedSAsGone(t, 10*time.Second); len(sas) != 0 {
		t.Errorf("iked kept SAs after the peer's Delete: %v", sas)
	}
}

// stopIked sends SIGTERM and checks that iked leaves its namespace's SAD
// and SPD as they were before it started.
func (s *kernelSetup) stopIked(t *testing.T, before string) {
	t.Helper()
	if err := s.iked.Proc.Stop(10 * time.Second); err != nil {
		t.Errorf("iked did not stop cleanly: %v", err)
	}
	if after := kernelState(t, s.ike.NS); after != before {
		t.Errorf("iked left kernel state after SIGTERM:\n%s\nbefore it started:\n%s", after, before)
	}
}

var kernelCases = []kernelCase{
	{name: "esp-cbc-sha256-tunnel", swanESP: "aes128-sha256", qm: qmESPCBC, chain: "[esp]", pfs: "none"},
	{name: "esp-gcm-tunnel-pfs", swanESP: "aes128gcm16-modp2048", qm: qmESPGCM, chain: "[esp]", pfs: "modp2048"},
	{name: "ah-sha256-tunnel", swanAH: "sha256", qm: qmAH, chain: "[ah]", pfs: "none"},
	{name: "ipcomp-esp-tunnel", swanESP: "aes128-sha256", ipcomp: true, qm: qmESPCBC + qmComp, chain: "[esp, comp]", pfs: "none"},
	{name: "esp-cbc-tunnel-ipv6-pfs", swanESP: "aes128-sha256-modp2048", qm: qmESPCBC, chain: "[esp]", pfs: "modp2048", v6: true},
	{name: "esp-gcm-transport", swanESP: "aes128gcm16", qm: qmESPGCM, chain: "[esp]", pfs: "none", transport: true},
	{name: "esp-cbc-transport-ipv6", swanESP: "aes128-sha256", qm: qmESPCBC, chain: "[esp]", pfs: "none", transport: true, v6: true},
}

// TestKernelStrongSwan: scenario 1, iked against charon (kernel-netlink),
// each case in both roles.
func TestKernelStrongSwan(t *testing.T) {
	requireKernel(t)
	for _, tc := range kernelCases {
		for _, ikedInit := range []bool{true, false} {
			if ikedInit && tc.respondOnly {
				continue
			}
			tc := tc
			tc.ikedInit = ikedInit
			role := "swan-init"
			if ikedInit {
				role = "iked-init"
			}
			t.Run(tc.name+"/"+role, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				line := "did not come up"
				defer func() { report(t, "1/"+tc.name+"/"+role, line) }()
				s := newKernelSetup(t, tc)
				before := kernelState(t, s.ike.NS)
				s.start(t)
				up := time.Since(start)
				r := s.traffic(t, "1-"+tc.name+"-"+role)
				line = fmt.Sprintf("%s (up in %v)", r, up.Round(time.Millisecond))
				s.peerDeletes(t)
				s.stopIked(t, before)
			})
		}
	}
}

// TestKernelCrash: scenario 8. iked killed with SIGKILL leaves its SAs and
// policies in the kernel; a new iked started on them removes exactly those
// (its reqid range, engine/xfrm/owner.go) and says so, negotiates again and
// carries traffic, and its SIGTERM leaves the kernel as it was before the
// first iked started.
func TestKernelCrash(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	s := newInitiatorSetup(t)
	before := kernelState(t, s.ike.NS)
	s.start(t)
	old, err := s.ike.NS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.iked.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for done, _ := s.iked.Proc.Exited(); !done; done, _ = s.iked.Proc.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("iked survived SIGKILL")
		}
		time.Sleep(50 * time.Millisecond)
	}
	left := kernelState(t, s.ike.NS)
	if left == before || !strings.Contains(left, "proto esp") {
		t.Fatalf("SIGKILL left nothing to recover from:\n%s", left)
	}

	s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
	var removed map[string]any
	for _, l := range s.iked.Lines() {
		if strings.HasPrefix(l.Msg, "removed the kernel SAs and policies an earlier iked left") {
			removed = l.Fields
		}
	}
	nPol, nSA := 0, 0
	if removed == nil {
		t.Errorf("the new iked did not report the leftovers:\n%s", s.iked.Output())
	} else {
		p, _ := removed["policies"].([]any)
		a, _ := removed["SAs"].([]any)
		nPol, nSA = len(p), len(a)
	}
	now, err := s.ike.NS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range old {
		for _, n := range now {
			if o.Proto == n.Proto && o.SPI == n.SPI && o.Dst == n.Dst {
				t.Errorf("the killed iked's SA %s is still there", o)
			}
		}
	}
	if err := s.iked.Initiate("peer"); err != nil {
		t.Fatalf("ikectl initiate after the restart: %v\n%s", err, s.iked.catalogSummary())
	}
	if _, err := s.waitIkedSAs(2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	r := s.traffic(t, "8-crash")
	s.stopIked(t, before)
	report(t, "8/sigkill-restart", fmt.Sprintf("killed iked left %d SAs; the new one removed %d SAs and %d policies; then %s", len(old), nSA, nPol, r))
}

// TestKernelOnDemand: scenario 4. iked's connection is on-demand: its trap
// policies are in the kernel from the start, the first packet makes the
// kernel ACQUIRE an SA, iked negotiates with charon, and the ping that
// started it gets through once the SAs are in; the packets sent before
// are lost (the kernel drops them while it waits) and counted.
func TestKernelOnDemand(t *testing.T) {
	line := kernelScenario(t, "4/on-demand")
	s := newInitiatorSetup(t)
	s.ikedPolicy = func(sock string) string { return s.policy(sock, "on-demand", "66m", "") }
	before := kernelState(t, s.ike.NS)
	s.startQuiet(t)
	pol, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pol, "dir out") || !strings.Contains(pol, "proto esp reqid") {
		t.Fatalf("no trap policy after start:\n%s", pol)
	}
	if sas, _ := s.ike.NS.XfrmStates(); len(sas) != 0 {
		t.Fatalf("SAs before any traffic: %v", sas)
	}
	start := time.Now()
	sent, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 30, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got == 0 {
		t.Fatalf("no ping answered after the ACQUIRE (%d sent)\niked:\n%s", sent, s.iked.catalogSummary())
	}
	if _, _, err := waitChild(s.charon, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	lost := sent - got
	r := s.traffic(t, "4-on-demand")
	*line = fmt.Sprintf("first ping: %d of %d lost before the SAs were in (ping every 200 ms, %v in all); then %s",
		lost, sent, time.Since(start).Round(time.Millisecond), r)
	s.stopIked(t, before)
}

// mirror is the setup seen from charon's host: a second iked there uses
// it for its policy.
func (s *kernelSetup) mirror() *kernelSetup {
	m := *s
	m.ike, m.swan = s.swan, s.ike
	m.ikeOuter, m.swanOuter = s.swanOuter, s.ikeOuter
	m.ikeIn, m.swanIn = s.swanIn, s.ikeIn
	m.ikeNet, m.swanNet = s.swanNet, s.ikeNet
	return &m
}

// TestKernelIkedIked: scenario 2, iked against iked, both with the xfrm
// engine, on bundles strongSwan does not negotiate (AH+ESP) and with
// IPComp; iked on host A initiates.
func TestKernelIkedIked(t *testing.T) {
	requireKernel(t)
	for _, tc := range []kernelCase{
		{name: "ah-esp-tunnel-pfs", qm: qmAH + qmESPCBC, chain: "[ah, esp]", pfs: "modp2048"},
		{name: "ipcomp-esp-transport", ipcomp: true, qm: qmESPGCM + qmComp, chain: "[esp, comp]", pfs: "none", transport: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := "did not come up"
			defer func() { report(t, "2/"+tc.name, line) }()
			start := time.Now()
			s := newKernelSetup(t, tc)
			m := s.mirror()
			beforeA, beforeB := kernelState(t, s.ike.NS), kernelState(t, m.ike.NS)
			m.iked = startIkedYAML(t, m.ike.NS, func(sock string) string { return m.policy(sock, "never", "66m", "") })
			s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
			if err := s.iked.Initiate("peer"); err != nil {
				t.Fatalf("ikectl initiate: %v\n%s\nresponder:\n%s", err, s.iked.catalogSummary(), m.iked.catalogSummary())
			}
			n := len(s.protocols()) * 2
			if _, err := s.waitIkedSAs(n, 30*time.Second); err != nil {
				t.Fatalf("%v\nresponder:\n%s", err, m.iked.catalogSummary())
			}
			if _, err := m.waitIkedSAs(n, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			up := time.Since(start)
			r := s.traffic(t, "2-"+tc.name)
			line = fmt.Sprintf("%s (up in %v)", r, up.Round(time.Millisecond))
			s.stopIked(t, beforeA)
			m.stopIked(t, beforeB)
		})
	}
}

// TestKernelManualKeys: scenario 10. A manually keyed ESP transport SA
// (manual-keys) between iked's host and a host keyed by hand with `ip
// xfrm`: iked installs the SAs and policies at start, they carry traffic
// both ways, and SIGTERM removes them.
func TestKernelManualKeys(t *testing.T) {
	line := kernelScenario(t, "10/manual-keys")
	s := newKernelSetup(t, kernelCase{name: "manual", chain: "[esp]", transport: true})
	s.unlisted = true
	const (
		encIn, encOut   = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
		authIn, authOut = "0123456789abcdef0123456789abcdef01234567", "76543210fedcba9876543210fedcba9876543210"
	)
	a, b := s.ikeOuter.String(), s.swanOuter.String()
	// The hand-keyed host: iked's inbound SA (0x1000) is its outbound.
	for _, args := range [][]string{
		{"state", "add", "src", b, "dst", a, "proto", "esp", "spi", "0x1000", "mode", "transport",
			"enc", "cbc(aes)", "0x" + encIn, "auth-trunc", "hmac(sha1)", "0x" + authIn, "96"},
		{"state", "add", "src", a, "dst", b, "proto", "esp", "spi", "0x1001", "mode", "transport",
			"enc", "cbc(aes)", "0x" + encOut, "auth-trunc", "hmac(sha1)", "0x" + authOut, "96"},
		{"policy", "add", "src", b + "/32", "dst", a + "/32", "dir", "out", "tmpl", "proto", "esp", "mode", "transport"},
		{"policy", "add", "src", a + "/32", "dst", b + "/32", "dir", "in", "tmpl", "proto", "esp", "mode", "transport"},
	} {
		s.swan.NS.MustRun("ip", append([]string{"xfrm"}, args...)...)
	}
	before := kernelState(t, s.ike.NS)
	s.iked = startIkedYAML(t, s.ike.NS, func(sock string) string {
		return fmt.Sprintf(`# generated by interop/kernel_test.go
daemon:
  listen: [%q]
  engine: xfrm
  control-socket: %q
  log: {level: info, format: json}
transforms:
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}
proposals:
  p: [esp]
proposal-lists:
  l: [p]
connections:
  legacy:
    local-address: %s
    remote-address: %s
    proposal-list: l
    manual-keys:
      - {protocol: esp, spi-in: 0x1000, spi-out: 0x1001, cipher-key-in: "0x%s", cipher-key-out: "0x%s", hmac-key-in: "0x%s", hmac-key-out: "0x%s"}
`, a, sock, a, b, encIn, encOut, authIn, authOut)
	})
	if _, err := s.waitIkedSAs(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := s.traffic(t, "10-manual-keys")
	*line = r.String()
	s.stopIked(t, before)
}

// TestKernelNAT: scenario 3. iked behind an nftables masquerade initiates
// to charon: both float to port 4500 and the kernel carries ESP in UDP
// (RFC 3948) on the SAs iked installed, whose encapsulation ports come
// from the NAT-T negotiation.
func TestKernelNAT(t *testing.T) {
	line := kernelScenario(t, "3/nat-t")
	r := NewRouted(t, RoutedOptions{NAT: true})
	tc := kernelCases[0]
	tc.ikedInit = true
	s := &kernelSetup{tc: tc, ike: r.Left, swan: r.Right, ikeOuter: r.Left.Addr, swanOuter: r.Right.Addr, psk: randomPSK(),
		ikeNet: netip.MustParsePrefix("203.0.113.128/25"), swanNet: netip.MustParsePrefix("203.0.113.0/25"),
		ikeIn: netip.MustParseAddr("203.0.113.129"), swanIn: netip.MustParseAddr("203.0.113.1")}
	s.ike.NS.MustRun("ip", "addr", "add", s.ikeIn.String()+"/32", "dev", "lo")
	s.swan.NS.MustRun("ip", "addr", "add", s.swanIn.String()+"/32", "dev", "lo")
	s.charonOpt(Child{ESPProposals: tc.swanESP, LocalTS: s.swanNet.String(), RemoteTS: s.ikeNet.String(), LifeTime: time.Hour})
	s.copt.Connections[0].RemoteAddrs = "%any"
	s.ikedPolicy = func(sock string) string { return s.policy(sock, "never", "66m", "") }
	before := kernelState(t, s.ike.NS)
	start := time.Now()
	s.startQuiet(t)
	if err := s.iked.Initiate("peer"); err != nil {
		t.Fatalf("ikectl initiate: %v\n%s", err, s.iked.catalogSummary())
	}
	sa, _, err := waitChild(s.charon, 30*time.Second)
	if err != nil {
		t.Fatalf("strongSwan: %v\niked:\n%s", err, s.iked.catalogSummary())
	}
	if !sa.NATRemote || sa.RemoteHost != r.RouterRight.String() || sa.RemotePort == "500" {
		t.Errorf("strongSwan sees %s:%s nat-remote=%v", sa.RemoteHost, sa.RemotePort, sa.NATRemote)
	}
	sas, err := s.waitIkedSAs(2, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sas {
		if !k.Encap {
			t.Errorf("iked's SA %s is not UDP-encapsulated", k)
		}
	}
	up := time.Since(start)
	res := s.traffic(t, "3-nat-t")
	if res.wire["nat-t"] == 0 || res.wire["esp"] != 0 {
		t.Errorf("on the wire: %v; want ESP in UDP only", res.wire)
	}
	*line = fmt.Sprintf("%s (up in %v)", res, up.Round(time.Millisecond))
	s.stopIked(t, before)
}

// TestKernelDPD: scenario 7. charon dies (SIGKILL: no Delete); iked's DPD
// (delay 2 s, timeout 6 s) declares it dead and removes the SAs from the
// kernel, and the on-demand connection's trap policies stay, so the next
// packet asks for a new SA.
func TestKernelDPD(t *testing.T) {
	line := kernelScenario(t, "7/dpd")
	s := newInitiatorSetup(t)
	s.copt.Connections[0].DPDDelay = 2 * time.Second
	s.ikedPolicy = func(sock string) string {
		p := s.policy(sock, "on-demand", "66m", "")
		return strings.Replace(p, "  phase2-lifetime-min: 1s\n", "  phase2-lifetime-min: 1s\n  dpd: {delay: 2s, timeout: 6s}\n", 1)
	}
	before := kernelState(t, s.ike.NS)
	s.startQuiet(t)
	traps, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 30, 200*time.Millisecond); err != nil || got == 0 {
		t.Fatalf("on-demand SA: %v, %d answered\n%s", err, got, s.iked.catalogSummary())
	}
	if _, err := s.waitIkedSAs(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.charon.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// 30 s is a guard; the figure is reported.
	if sas := s.waitIkedSAsGone(t, 30*time.Second); len(sas) != 0 {
		t.Fatalf("iked kept its SAs %v after the peer died: %v\n%s", time.Since(killed).Round(time.Second), sas, s.iked.catalogSummary())
	}
	gone := time.Since(killed)
	after, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if after != traps {
		t.Errorf("policies after the peer's death:\n%s\nwant the trap policies:\n%s", after, traps)
	}
	*line = fmt.Sprintf("peer killed; iked removed its kernel SAs after %v (DPD delay 2 s + timeout 6 s); trap policies back: %v",
		gone.Round(100*time.Millisecond), after == traps)
	s.stopIked(t, before)
}
