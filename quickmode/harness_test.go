package quickmode

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/isakmp/pcapgolden"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// The in-process harness: two policies loaded by policymgr as the daemon
// loads them, a phase 1 negotiated between them with phase1's exchanges,
// then Quick Mode between the two established ISAKMP SAs, each side with
// its own memory engine (`engine: none`), every Work run at once and every
// engine request answered by engine.Engine.Do. Nothing is faked: the SPIs
// come from the engines, the keys they record are what each side derived.

var (
	gwA  = netip.MustParseAddrPort("192.0.2.1:500")
	gwB  = netip.MustParseAddrPort("192.0.2.2:500")
	gwA6 = netip.MustParseAddrPort("[2001:db8::1]:500")
	gwB6 = netip.MustParseAddrPort("[2001:db8::2]:500")
)

// qmSide is one gateway's phase 2 policy.
type qmSide struct {
	self      string // "a" or "b"
	ipsec     string // transforms YAML lines for phase 2, e.g. "esp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}"
	proposals string // e.g. "p: [esp]"
	list      string // e.g. "[p]"
	pfs       string // none, modp2048, ...
	lifetime  string // phase 2 lifetime
	kbytes    int
	minLife   string // daemon.phase2-lifetime-min
	tunnel    bool
	local     string // selectors; default the gateway addresses
	remote    string
	proto     string
	lport     int
	rport     int
	saPerHost bool
	roadWarr  bool // no remote-address (answers any), only with tunnel
	v6        bool // IPv6 gateways
}

func (s qmSide) gateways() (a, b netip.AddrPort) {
	if s.v6 {
		return gwA6, gwB6
	}
	return gwA, gwB
}

func (s qmSide) addrs() (netip.Addr, netip.Addr) {
	a, b := s.gateways()
	if s.self == "b" {
		return b.Addr(), a.Addr()
	}
	return a.Addr(), b.Addr()
}

// policyYAML is the whole policy file of a side.
func policyYAML(s qmSide) string {
	local, remote := s.addrs()
	var b strings.Builder
	min := s.minLife
	if min == "" {
		min = "2m"
	}
	fmt.Fprintf(&b, "daemon:\n  engine: none\n  phase2-lifetime-min: %s\n", min)
	b.WriteString("transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048], lifetime: 8h}\n")
	ipsec := s.ipsec
	if ipsec == "" {
		ipsec = "esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}"
	}
	for _, l := range strings.Split(ipsec, "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	props := s.proposals
	if props == "" {
		props = "p: [esp]"
	}
	b.WriteString("proposals:\n")
	for _, l := range strings.Split(props, "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	list := s.list
	if list == "" {
		list = "[p]"
	}
	fmt.Fprintf(&b, "proposal-lists:\n  l: %s\n", list)
	b.WriteString("connections:\n  c:\n")
	la, ra := s.local, s.remote
	if la == "" {
		la = local.String()
	}
	if ra == "" && !s.roadWarr {
		ra = remote.String()
	}
	fmt.Fprintf(&b, "    local-address: %s\n", la)
	if ra != "" {
		fmt.Fprintf(&b, "    remote-address: %s\n", ra)
	}
	if s.proto != "" {
		fmt.Fprintf(&b, "    protocol: %s\n", s.proto)
	}
	if s.lport != 0 {
		fmt.Fprintf(&b, "    local-port: %d\n", s.lport)
	}
	if s.rport != 0 {
		fmt.Fprintf(&b, "    remote-port: %d\n", s.rport)
	}
	if s.tunnel {
		fmt.Fprintf(&b, "    local-gw: %s\n", local)
		if !s.roadWarr {
			fmt.Fprintf(&b, "    remote-gw: %s\n", remote)
		}
	}
	b.WriteString("    initiate: never\n")
	if s.saPerHost {
		b.WriteString("    sa-per-host: true\n")
	}
	b.WriteString("    ike:\n      mode: main\n      transforms: [ike]\n      auth: psk\n      psk: \"quick mode test key\"\n")
	pfs := s.pfs
	if pfs == "" {
		pfs = "none"
	}
	fmt.Fprintf(&b, "    proposal-list: l\n    pfs: %s\n", pfs)
	life := s.lifetime
	if life == "" {
		life = "1h"
	}
	fmt.Fprintf(&b, "    lifetime: %s\n", life)
	if s.kbytes != 0 {
		fmt.Fprintf(&b, "    lifetime-kbytes: %d\n", s.kbytes)
	}
	return b.String()
}

// loadPolicy writes s's policy file and loads it as the daemon does.
func loadPolicy(t testing.TB, s qmSide) *policymgr.Policy {
	t.Helper()
	text := policyYAML(s)
	path := filepath.Join(t.TempDir(), "iked.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(path, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy did not load: %v %v\n%s", err, msgs, text)
	}
	return p
}

// wireDG is one datagram of a test run, for tshark.
type wireDG struct {
	fromA bool
	data  []byte
}

var testNow = time.Unix(1_800_000_000, 0)

// establish negotiates phase 1 between the two policies (A initiates Main
// Mode, phase1.Loopback) and returns the two established ISAKMP SAs.
func establish(t testing.TB, pa, pb *policymgr.Policy, gwA, gwB netip.AddrPort) (a, b *phase1.SA, wires []wireDG) {
	t.Helper()
	conn, _ := pa.Connection("c")
	l := &phase1.Loopback{Env: phase1.Env{Now: testNow, Rand: rand.Reader},
		Initiator: phase1.Config{Policy: pa}, Responder: phase1.Config{Policy: pb}, Conn: conn, I: gwA, R: gwB,
		Step: func(_ bool, st daemon.Result) {
			if st.DeleteSA || st.Reject != nil {
				t.Fatalf("phase 1 failed: %v %v", st.Reject, st.Log)
			}
		}}
	rand.Read(l.ICookie[:])
	rand.Read(l.RCookie[:])
	run, err := l.Run()
	if err != nil {
		t.Fatal(err)
	}
	if run.R == nil {
		t.Fatal("phase 1 not established: no responder")
	}
	if run.I.SA.State != phase1.StateEstablished || run.R.SA.State != phase1.StateEstablished {
		t.Fatalf("phase 1 not established: %v %v", run.I.SA.State, run.R.SA.State)
	}
	for _, d := range run.Wires {
		if !d.Also {
			wires = append(wires, wireDG{d.FromI, d.Data})
		}
	}
	return run.I.SA, run.R.SA, wires
}

// qmPeer is one side of a Quick Mode test.
type qmPeer struct {
	name   string
	p1     *phase1.SA
	cfg    Config
	eng    *engine.Engine
	back   *memory.Backend
	x      *Exchange
	log    []notify.Message
	child  *Child
	failed bool
	tokens uint64
	works  []bool // each Work asked for: daemon.Result.Cheap
}

// newPeer is one side of a Quick Mode over p1, with a fresh memory engine.
func newPeer(t testing.TB, name string, p1 *phase1.SA, pol *policymgr.Policy) *qmPeer {
	back := memory.New(memory.Options{})
	if err := back.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	return &qmPeer{name: name, p1: p1, back: back, eng: engine.New(back, engine.Config{}),
		cfg: Config{Policy: pol, LifetimeMin: pol.Daemon.Phase2LifetimeMin}}
}

// env lends the peer itself as Tokens, as the daemon lends its Context.
func (p *qmPeer) env() Env {
	return Env{Now: testNow, Rand: rand.Reader, Tokens: p}
}

// Token numbers the peer's engine requests.
func (p *qmPeer) Token() uint64 { p.tokens++; return p.tokens }

func (p *qmPeer) has(num int) bool {
	return slices.ContainsFunc(p.log, func(m notify.Message) bool { return m.Num == num })
}

func (p *qmPeer) logText() string {
	var b strings.Builder
	for _, m := range p.log {
		fmt.Fprintf(&b, "  %s %d %s\n", p.name, m.Num, m.Text)
	}
	return b.String()
}

// qmRun is the outcome of one Quick Mode.
type qmRun struct {
	a, b    *qmPeer
	wires   []wireDG
	rejects []error
}

// runQM runs a Quick Mode initiated by a on conn "c" and answered by b.
// mangle, if set, may change each datagram (by index) before delivery.
func runQM(t *testing.T, a, b *qmPeer, mangle func(i int, data []byte) []byte) *qmRun {
	t.Helper()
	r := &qmRun{a: a, b: b}
	conn, _ := a.cfg.Policy.Connection("c")
	x, st, err := NewInitiator(a.env(), a.cfg, a.p1, conn, 0x6b5d9a3b)
	if err != nil {
		t.Fatalf("NewInitiator: %v %v", err, st.Log)
	}
	a.x = x
	defer func() { collect(a.p1, r.wires) }()
	converse(a, b, st, mangle, func(fromA bool, data []byte) { r.wires = append(r.wires, wireDG{fromA, data}) },
		func(err error) { r.rejects = append(r.rejects, err) })
	return r
}

// converse carries a Quick Mode that a.x began with st to its end with b,
// each side's Work run and engine requests answered at once: the peers
// collect their logs, their installed bundles and whether they failed.
// mangle, if set, may change each datagram (by index) before delivery;
// sent, if set, sees every datagram and informational sent, rejected
// every rejection.
func converse(a, b *qmPeer, st daemon.Result, mangle func(i int, data []byte) []byte,
	sent func(fromA bool, data []byte), rejected func(error)) {
	type msg struct {
		toB  bool
		data []byte
	}
	var queue []msg
	var handle func(p *qmPeer, st daemon.Result)
	handle = func(p *qmPeer, st daemon.Result) {
		if st.Reject != nil && rejected != nil {
			rejected(st.Reject)
		}
		p.log = append(p.log, st.Log...)
		p.failed = p.failed || failed(p.x, st)
		var info []byte
		if p.x != nil {
			if ch := p.x.Installed(); ch != nil {
				p.child = ch
			}
			info = p.x.TakeInfo()
		}
		if st.Send != nil {
			queue = append(queue, msg{p == a, st.Send})
		}
		for _, d := range [][]byte{st.Send, info} {
			if d != nil && sent != nil {
				sent(p == a, d)
			}
		}
		var vals []any
		if st.Work != nil {
			p.works = append(p.works, st.Cheap)
			vals = append(vals, st.Work())
		}
		for _, req := range st.Engine {
			vals = append(vals, p.eng.Do(req))
		}
		for _, v := range vals {
			if p.x == nil {
				return
			}
			handle(p, p.x.Resume(p.env(), v))
		}
	}
	handle(a, st)
	for n := 0; len(queue) > 0 && n < 20; n++ {
		m := queue[0]
		queue = queue[1:]
		data := m.data
		if mangle != nil {
			data = mangle(n, slices.Clone(data))
		}
		switch {
		case m.toB && b.x == nil && !b.failed:
			x, st := NewResponder(b.env(), b.cfg, b.p1, data)
			b.x = x
			handle(b, st)
		case m.toB && b.x != nil:
			handle(b, b.x.Consume(b.env(), data))
		case !m.toB && a.x != nil:
			handle(a, a.x.Consume(a.env(), data))
		}
	}
}

// pair loads both policies, negotiates phase 1 and returns the peers.
func pair(t *testing.T, sa, sb qmSide) (*qmPeer, *qmPeer, []wireDG) {
	t.Helper()
	sa.self, sb.self = "a", "b"
	pa, pb := loadPolicy(t, sa), loadPolicy(t, sb)
	ga, gb := sa.gateways()
	p1a, p1b, wires := establish(t, pa, pb, ga, gb)
	collect(p1a, wires)
	return newPeer(t, "A", p1a, pa), newPeer(t, "B", p1b, pb), wires
}

// checkKeys proves that each side's outbound SAs are the other side's
// inbound SAs, key for key, as the two memory engines recorded them.
//
// softOK: a soft limit is one of the two roles' (softLimit).
func softOK(hard, soft uint64) bool {
	if hard == 0 {
		return soft == 0
	}
	return soft == softLimit(hard, daemon.RoleInitiator) || soft == softLimit(hard, daemon.RoleResponder)
}

func checkKeys(t *testing.T, r *qmRun) {
	t.Helper()
	a, b := r.a, r.b
	if a.child == nil || b.child == nil {
		t.Fatalf("not established: A child %v failed %v, B child %v failed %v; rejects %v\n%s%s",
			a.child != nil, a.failed, b.child != nil, b.failed, r.rejects, a.logText(), b.logText())
	}
	for _, pr := range [][2]*qmPeer{{a, b}, {b, a}} {
		from, to := pr[0], pr[1]
		outs := from.back.SAs()
		n := 0
		for _, o := range outs {
			if o.Inbound {
				continue
			}
			n++
			in, ok := to.back.Lookup(engine.SARef{Protocol: o.Ref.Protocol, SPI: o.Ref.SPI, Src: o.Ref.Src, Dst: o.Ref.Dst})
			if !ok || !in.Inbound {
				t.Fatalf("%s's outbound %s is not %s's inbound SA", from.name, o.Ref, to.name)
			}
			if !sameKeys(o.SA, in.SA) {
				t.Errorf("%s's outbound %s and %s's inbound differ", from.name, o.Ref, to.name)
			}
			// The hard limits are negotiated; the soft ones differ by role
			// (softLimit): the responder's come later.
			ol, il := o.Lifetime, in.Lifetime
			if o.Mode != in.Mode || !sameEncap(o.Encap, in.Encap) || ol.HardSeconds != il.HardSeconds || ol.HardKBytes != il.HardKBytes ||
				!softOK(ol.HardSeconds, ol.SoftSeconds) || !softOK(il.HardSeconds, il.SoftSeconds) ||
				!softOK(ol.HardKBytes, ol.SoftKBytes) || !softOK(il.HardKBytes, il.SoftKBytes) {
				t.Errorf("%s %s: mode/encap/lifetime differ: %v/%v %+v/%+v", from.name, o.Ref, o.Mode, in.Mode, o.Lifetime, in.Lifetime)
			}
		}
		if n == 0 || n != len(from.child.SAs) {
			t.Errorf("%s has %d outbound SAs for %d protocols", from.name, n, len(from.child.SAs))
		}
	}
}

func sameKeys(x, y engine.SA) bool {
	ck := func(a, b *engine.Cipher) bool {
		return (a == nil) == (b == nil) && (a == nil || a.Name == b.Name && a.Key.Equal(b.Key) && len(a.Key) > 0 && a.ICVBits == b.ICVBits)
	}
	ik := func(a, b *engine.Integrity) bool {
		return (a == nil) == (b == nil) && (a == nil || a.Name == b.Name && a.Key.Equal(b.Key) && len(a.Key) > 0 && a.TruncBits == b.TruncBits)
	}
	return x.Protocol == y.Protocol && ck(x.Encryption, y.Encryption) && ik(x.Integrity, y.Integrity)
}

func sameEncap(a, b *engine.Encap) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.LocalPort == b.RemotePort && a.RemotePort == b.LocalPort
}

// tsharkBatch collects the datagrams of many runs with each run's phase 1
// key for tshark's IKEv1 decryption table, and has tshark dissect them all
// at once (one tshark start instead of one per run, on 2 shared cores).
type tsharkBatch struct {
	ds   []pcapgolden.Datagram
	uats []string
	qm   int // Quick Mode datagrams, each must show its decrypted HASH
}

func (b *tsharkBatch) add(p1a *phase1.SA, ws ...[]wireDG) {
	for _, w := range ws {
		for _, d := range w {
			g := pcapgolden.Datagram{Src: gwB.Addr(), Dst: gwA.Addr(), Payload: d.data}
			if d.fromA {
				g.Src, g.Dst = gwA.Addr(), gwB.Addr()
			}
			if len(d.data) > 18 && isakmp.ExchangeType(d.data[18]) == isakmp.ExchangeQuickMode {
				b.qm++
			}
			b.ds = append(b.ds, g)
		}
	}
	b.uats = append(b.uats, fmt.Sprintf("uat:ikev1_decryption_table:%x,%x", p1a.ICookie[:], p1a.Ka()))
}

// run writes the pcap and runs tshark: no malformed packet or expert
// warning, and every Quick Mode message decrypted (its HASH payload
// dissected).
func (b *tsharkBatch) run(dir string) (summary string, problems []string, err error) {
	path := filepath.Join(dir, "qm.pcap")
	if d := os.Getenv("QM_PCAP"); d != "" {
		path = d
	}
	if err := pcapgolden.WriteFile(path, b.ds); err != nil {
		return "", nil, err
	}
	var args []string
	for _, u := range b.uats {
		args = append(args, "-o", u)
	}
	summary, problems, err = pcapgolden.Check(path, args...)
	if err != nil {
		return summary, problems, err
	}
	cmd := exec.Command("tshark", append([]string{"-n", "-r", path, "-T", "fields", "-e", "isakmp.exchangetype", "-e", "isakmp.hash"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return summary, problems, fmt.Errorf("tshark fields: %v", err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 2 && f[0] == "32" && f[1] != "" {
			n++
		}
	}
	if n != b.qm {
		problems = append(problems, fmt.Sprintf("tshark decrypted %d of %d Quick Mode messages", n, b.qm))
	}
	return summary, problems, nil
}

// check is run for a test.
func (b *tsharkBatch) check(t *testing.T) string {
	t.Helper()
	if len(b.ds) == 0 {
		return ""
	}
	summary, problems, err := b.run(t.TempDir())
	pcapgolden.SkipNoTshark(t, err)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("tshark: %s", p)
	}
	return summary
}

// everything collects every datagram the in-process tests produce over
// IPv4 (phase 1 and Quick Mode, refusals and notifies included); TestMain
// has tshark dissect them all once the tests have run.
var (
	everythingMu sync.Mutex
	everything   tsharkBatch
)

func collect(p1a *phase1.SA, ws ...[]wireDG) {
	if !p1a.Local.Addr().Is4() {
		return
	}
	everythingMu.Lock()
	defer everythingMu.Unlock()
	everything.add(p1a, ws...)
}

// TestMain runs the tests, then tshark over every datagram they produced.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && len(everything.ds) > 0 {
		dir, err := os.MkdirTemp("", "quickmode-tshark-")
		if err == nil {
			_, problems, err := everything.run(dir)
			os.RemoveAll(dir)
			switch {
			case errors.Is(err, pcapgolden.ErrNoTshark):
				fmt.Println("quickmode: tshark missing, datagrams not dissected")
				if os.Getenv("CI") != "" {
					code = 1 // CI must dissect them (.ci/run installs tshark)
				}
			case err != nil:
				fmt.Println("quickmode: tshark:", err)
				code = 1
			case len(problems) > 0:
				fmt.Println("quickmode: tshark over every datagram of the tests:", strings.Join(problems, "\n"))
				code = 1
			}
		}
	}
	os.Exit(code)
}

// checkTshark is a tsharkBatch of one run.
func checkTshark(t *testing.T, p1a *phase1.SA, ws ...[]wireDG) string {
	t.Helper()
	var b tsharkBatch
	b.add(p1a, ws...)
	return b.check(t)
}

// failed reports whether st ended x in failure (x nil: a responder that
// refused QM1, for which a failure is a finished step).
func failed(x *Exchange, st daemon.Result) bool {
	if x == nil {
		return st.Done
	}
	return x.Failed()
}
