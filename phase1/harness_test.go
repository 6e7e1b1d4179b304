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
	roadWarr bool   // respond to any peer
	// pkiDir, ca, cert and key name external certificate files (a
	// recorded run's) instead of testdata/pki's.
	pkiDir, ca, cert, key string
	// local and remote override the gateway addresses (live tests).
	local, remote netip.Addr
	// daemonExtra is more of the daemon section, e.g. "  dpd: {...}\n".
	daemonExtra string
	// trustAlso names a second CA of testdata/pki trusted as item "also";
	// limitCA is the connection's ike.ca ("ca" or "also").
	trustAlso, limitCA string
	// sendCert is the connection's ike.send-cert (empty: not given).
	sendCert string
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
	b.WriteString(s.daemonExtra)
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
	if s.roadWarr {
		fmt.Fprintf(&b, "    local-gw: %s\n    initiate: never\n", local)
	}
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

// negotiate runs initiator and responder in one goroutine, passing each
// Send to the other side and running each Work at once, until both are
// done or nothing is left to send. drop, if set, decides to lose a
// datagram (by its index in o.wires) so that retransmission is exercised
// by the caller.
func negotiate(t *testing.T, pi, pr *policymgr.Policy) *outcome {
	t.Helper()
	env := testEnv()
	o := &outcome{}
	conn, ok := pi.Connection("c")
	if !ok {
		t.Fatal("no connection c")
	}
	ic := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	rc := [8]byte{9, 10, 11, 12, 13, 14, 15, 16}
	x, st, err := NewInitiator(env, Config{Policy: pi}, conn, ic, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	o.i = x
	// pending datagrams: to responder (true) or to initiator.
	type msg struct {
		toR  bool
		data []byte
	}
	var queue []msg
	handle := func(isI bool, st daemon.Result) {
		for {
			if st.Reject != nil {
				o.rejects = append(o.rejects, st.Reject)
			}
			if isI {
				o.iLog = append(o.iLog, st.Log...)
				o.iEst = o.iEst || st.Established
				o.iFail = o.iFail || st.DeleteSA
			} else {
				o.rLog = append(o.rLog, st.Log...)
				o.rEst = o.rEst || st.Established
				o.rFail = o.rFail || st.DeleteSA
			}
			if st.Send != nil {
				o.wires = append(o.wires, wire{fromI: isI, data: st.Send})
				queue = append(queue, msg{toR: isI, data: st.Send})
			}
			for _, a := range st.Also {
				o.also = append(o.also, wire{fromI: isI, data: a})
			}
			if st.Work == nil {
				return
			}
			v := st.Work()
			if isI {
				st = o.i.Resume(env, v)
			} else {
				st = o.r.Resume(env, v)
			}
		}
	}
	handle(true, st)
	for n := 0; len(queue) > 0 && n < 20; n++ {
		m := queue[0]
		queue = queue[1:]
		if m.toR {
			if o.r == nil {
				if o.rFail {
					break
				}
				var rs daemon.Result
				o.r, rs = NewResponder(env, Config{Policy: pr}, ic, rc, addrB, addrA, m.data)
				handle(false, rs)
				if o.r == nil {
					o.rFail = true
				}
				continue
			}
			handle(false, o.r.Consume(env, m.data))
		} else {
			handle(true, o.i.Consume(env, m.data))
		}
	}
	return o
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
