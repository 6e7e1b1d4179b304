package phase1

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp/pcapgolden"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Addresses of the two test gateways (RFC 5737 documentation range); they
// match the subjectAltNames of testdata/pki.
var (
	addrA = netip.MustParseAddrPort("192.0.2.1:500")
	addrB = netip.MustParseAddrPort("192.0.2.2:500")
)

// attached returns a daemon SA that carries s as its phase 1 state.
func attached(s *SA) *daemon.SA {
	sa := &daemon.SA{}
	attach(sa, s)
	return sa
}

// side describes one gateway's policy for a test.
type side struct {
	mode     string // main | aggressive
	auth     string // psk | rsa | p256 | p384
	psk      string
	ciphers  string // YAML list body, e.g. "aes128, 3des"
	hashes   string
	groups   string
	lifetime string
	localID  string
	remoteID string
	minLife  string // phase1-lifetime-min
	self     string // "a" or "b": which certificate and addresses
	// pkiDir, ca, cert and key name external certificate files (a
	// recorded run's) instead of testdata/pki's.
	pkiDir, ca, cert, key string
	// local and remote override the gateway addresses (live tests).
	local, remote netip.Addr
	// trustAlso names a second CA of testdata/pki trusted as item "also";
	// limitCA is the connection's ike.ca ("ca" or "also").
	trustAlso, limitCA string
	// sendCert is the connection's ike.send-cert (empty: not given).
	sendCert string
	// fragmentation is the connection's fragmentation (empty: not given).
	fragmentation string
}

// policyFor writes side's policy file and loads it with policymgr, as the
// daemon would.
func policyFor(t testing.TB, s side) *policymgr.Policy {
	t.Helper()
	dir := t.TempDir()
	local, remote := addrA.Addr(), addrB.Addr()
	if s.self == "b" {
		local, remote = remote, local
	}
	if s.local.IsValid() {
		local, remote = s.local, s.remote
	}
	var b strings.Builder
	minLife := s.minLife
	if minLife == "" {
		minLife = "5m"
	}
	fmt.Fprintf(&b, "daemon:\n  phase1-lifetime-min: %s\n", minLife)
	if s.auth != "psk" {
		ca := "ca-rsa"
		if s.auth != "rsa" {
			ca = "ca-ec"
		}
		cert := s.auth + "-" + s.self
		src, caF, certF, keyF := filepath.Join("testdata", "pki"), ca+".pem", cert+".pem", cert+".key"
		if s.pkiDir != "" {
			src, caF, certF, keyF = s.pkiDir, s.ca, s.cert, s.key
		}
		for _, f := range []string{caF, certF, keyF} {
			if f == "-" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		b.WriteString("certificates:\n")
		if caF != "-" {
			fmt.Fprintf(&b, "  ca: {file: %s, trusted: true}\n", caF)
		}
		fmt.Fprintf(&b, "  me: {file: %s, private-key: %s}\n", certF, keyF)
		if s.trustAlso != "" {
			data, err := os.ReadFile(filepath.Join(src, s.trustAlso+".pem"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "also.pem"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			b.WriteString("  also: {file: also.pem, trusted: true}\n")
		}
	}
	life := s.lifetime
	if life == "" {
		life = "8h"
	}
	fmt.Fprintf(&b, "transforms:\n  ike: {protocol: isakmp, ciphers: [%s], hashes: [%s], groups: [%s], lifetime: %s}\n",
		s.ciphers, s.hashes, s.groups, life)
	b.WriteString("  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\nproposals: {p: [esp]}\nproposal-lists: {l: [p]}\n")
	b.WriteString("connections:\n  c:\n")
	fmt.Fprintf(&b, "    local-address: %s\n", local)
	fmt.Fprintf(&b, "    remote-address: %s\n", remote)
	fmt.Fprintf(&b, "    ike:\n      mode: %s\n      transforms: [ike]\n", s.mode)
	if s.auth == "psk" {
		fmt.Fprintf(&b, "      auth: psk\n      psk: %q\n", s.psk)
	} else {
		b.WriteString("      auth: certificate\n      certificate: me\n")
		if s.limitCA != "" {
			fmt.Fprintf(&b, "      ca: %s\n", s.limitCA)
		}
		if s.sendCert != "" {
			fmt.Fprintf(&b, "      send-cert: %s\n", s.sendCert)
		}
	}
	if s.localID != "" {
		fmt.Fprintf(&b, "      local-id: %q\n", s.localID)
	}
	if s.remoteID != "" {
		fmt.Fprintf(&b, "      remote-id: %q\n", s.remoteID)
	}
	if s.fragmentation != "" {
		fmt.Fprintf(&b, "    fragmentation: %s\n", s.fragmentation)
	}
	b.WriteString("    proposal-list: l\n")
	path := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(path, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy did not load: %v %v\n%s", err, msgs, b.String())
	}
	return p
}

// wire is one datagram of a negotiation, for tshark.
type wire struct {
	fromI bool
	data  []byte
}

// outcome is what an in-process negotiation produced.
type outcome struct {
	i, r       *Exchange
	iLog, rLog []notify.Message
	wires      []wire
	also       []wire // daemon.Result.Also datagrams, not delivered
	iEst, rEst bool
	iFail      bool
	rFail      bool
	rejects    []error
	// works is each Work asked for, in order: "I" or "R", then "cheap"
	// (daemon.Result.Cheap: run on the loop) or "pool".
	works []string
}

func (o *outcome) logText() string {
	var b strings.Builder
	for _, m := range o.iLog {
		fmt.Fprintf(&b, "I %d %s\n", m.Num, m.Text)
	}
	for _, m := range o.rLog {
		fmt.Fprintf(&b, "R %d %s\n", m.Num, m.Text)
	}
	return b.String()
}

func (o *outcome) has(initiator bool, num int) bool {
	l := o.rLog
	if initiator {
		l = o.iLog
	}
	for _, m := range l {
		if m.Num == num {
			return true
		}
	}
	return false
}

func testEnv() Env { return Env{Now: time.Unix(1_800_000_000, 0), Rand: rand.Reader} }

// negotiate runs a phase 1 from pi's connection "c" to pr (Loopback) and
// collects what each side logged and whether it established or failed.
func negotiate(t *testing.T, pi, pr *policymgr.Policy) *outcome {
	t.Helper()
	o := &outcome{}
	conn, ok := pi.Connection("c")
	if !ok {
		t.Fatal("no connection c")
	}
	l := &Loopback{Env: testEnv(), Initiator: Config{Policy: pi}, Responder: Config{Policy: pr}, Conn: conn,
		ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, RCookie: [8]byte{9, 10, 11, 12, 13, 14, 15, 16}, I: addrA, R: addrB,
		Step: func(isI bool, st daemon.Result) {
			if st.Reject != nil {
				o.rejects = append(o.rejects, st.Reject)
			}
			if st.Work != nil {
				w := map[bool]string{true: "I ", false: "R "}[isI] + map[bool]string{true: "cheap", false: "pool"}[st.Cheap]
				o.works = append(o.works, w)
			}
			if isI {
				o.iLog = append(o.iLog, st.Log...)
				o.iEst, o.iFail = o.iEst || st.Established, o.iFail || st.DeleteSA
			} else {
				o.rLog = append(o.rLog, st.Log...)
				o.rEst, o.rFail = o.rEst || st.Established, o.rFail || st.DeleteSA
			}
		}}
	run, err := l.Run()
	if err != nil {
		t.Fatal(err)
	}
	o.i, o.r = run.I, run.R
	for _, d := range run.Wires {
		o.rFail = o.rFail || (o.r == nil && d.FromI)
		w := wire{fromI: d.FromI, data: d.Data}
		if d.Also {
			o.also = append(o.also, w)
		} else {
			o.wires = append(o.wires, w)
		}
	}
	return o
}

// negotiateSides negotiates between the policies of a and b.
// forModes runs f as a subtest for Main and for Aggressive Mode, with a
// fresh pair of sides (pskPair) each time.
func forModes(t *testing.T, f func(t *testing.T, a, b side)) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			a, b := pskPair(mode)
			f(t, a, b)
		})
	}
}

func negotiateSides(t *testing.T, a, b side) *outcome {
	t.Helper()
	return negotiate(t, policyFor(t, a), policyFor(t, b))
}

// checkTshark writes the negotiation's datagrams to a pcap and has tshark
// dissect them: no malformed packet, no expert warning or error.
func checkTshark(t *testing.T, o *outcome) {
	t.Helper()
	var ds []pcapgolden.Datagram
	for _, w := range o.wires {
		d := pcapgolden.Datagram{Src: addrB.Addr(), Dst: addrA.Addr(), Payload: w.data}
		if w.fromI {
			d.Src, d.Dst = addrA.Addr(), addrB.Addr()
		}
		ds = append(ds, d)
	}
	path := filepath.Join(t.TempDir(), "phase1.pcap")
	if err := pcapgolden.WriteFile(path, ds); err != nil {
		t.Fatal(err)
	}
	pcapgolden.Tshark(t, path)
}
