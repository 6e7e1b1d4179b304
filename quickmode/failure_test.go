package quickmode

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
)

// text returns the text of the peer's first catalog message num.
func (p *qmPeer) text(num int) string {
	for _, m := range p.log {
		if m.Num == num {
			return m.Text
		}
	}
	return ""
}

// notifyFrom opens the informational datagram one side sent with the
// other side's ISAKMP SA keys and returns its notifies.
func notifyFrom(t *testing.T, data []byte, other *phase1.SA) *phase1.Informational {
	t.Helper()
	k, ok := other.InfoKeys()
	if !ok {
		t.Fatal("no keys")
	}
	inf, err := phase1.OpenInformational(data, &k)
	if err != nil {
		t.Fatalf("the informational does not open with the peer's keys: %v", err)
	}
	return inf
}

// tunnelPair is pair on two sides in tunnel mode between
// 198.51.100.0/25 (A) and 198.51.100.128/25 (B), after edit (if not nil)
// changed them.
func tunnelPair(t *testing.T, edit func(sa, sb *qmSide)) (*qmPeer, *qmPeer, []wireDG) {
	t.Helper()
	sa, sb := mirrored(qmSide{tunnel: true}, "198.51.100.0/25", "198.51.100.128/25")
	if edit != nil {
		edit(&sa, &sb)
	}
	return pair(t, sa, sb)
}

// mirrored returns s for A and for B; in tunnel mode A's selectors are
// local and remote, B's the mirror of A's.
func mirrored(s qmSide, local, remote string) (a, b qmSide) {
	a, b = s, s
	if s.tunnel {
		a.local, a.remote = local, remote
		b.local, b.remote = remote, local
	}
	return a, b
}

func TestNoProposalChosen(t *testing.T) {
	a, b, p1w := tunnelPair(t, func(sa, sb *qmSide) {
		sa.ipsec = "esp: {protocol: esp, ciphers: [aes256], hmacs: [sha1]}"
		sb.ipsec = "esp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}"
	})
	r := runQM(t, a, b, nil)
	if !b.failed || b.x != nil || b.child != nil || len(b.back.SAs()) != 0 {
		t.Fatalf("responder did not refuse: %v", b.logText())
	}
	if got := b.text(56); got != "IKE Phase-2; Could not select any protocols from IPSEC SA 1" {
		t.Errorf("56: %q", got)
	}
	if got := b.text(57); got != "IKE Quick-Mode negotiation between 192.0.2.2 <-> 192.0.2.1 failed: NO-PROPOSAL-CHOSEN" {
		t.Errorf("57: %q", got)
	}
	if got := b.text(58); got != "Phase-2 [responder] for 198.51.100.128/25 and 198.51.100.0/25 failed; NO-PROPOSAL-CHOSEN." {
		t.Errorf("58: %q", got)
	}
	if got := b.text(52); got != "Sending notification to 192.0.2.1 : NO-PROPOSAL-CHOSEN" {
		t.Errorf("52: %q", got)
	}
	last := r.wires[len(r.wires)-1]
	if last.fromA {
		t.Fatal("the responder sent nothing")
	}
	inf := notifyFrom(t, last.data, a.p1)
	if len(inf.Notifies) != 1 || inf.Notifies[0].NotifyType != isakmp.NoProposalChosen || inf.Notifies[0].Protocol != isakmp.ProtoESP ||
		len(inf.Notifies[0].SPI) != 4 {
		t.Errorf("notify: %+v", inf.Notifies)
	}
	// The initiator hears nothing in its exchange; it gives up with 57/58.
	st := a.x.TimedOut(a.env())
	a.log = append(a.log, st.Log...)
	if !a.x.Failed() || !a.has(57) || !strings.Contains(a.text(58), "Phase-2 [initiator] for 198.51.100.0/25 and 198.51.100.128/25 failed") {
		t.Errorf("initiator timeout: %s", a.logText())
	}
	checkTshark(t, a.p1, p1w, r.wires)
}

func TestChainMismatch(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		sa.ipsec = "ah: {protocol: ah, hmacs: [sha256]}\nesp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}"
		sa.proposals = "p: [ah, esp]"
	})
	runQM(t, a, b, nil)
	if !b.failed || !b.has(56) {
		t.Fatalf("AH+ESP against ESP only was accepted: %s", b.logText())
	}
}

func TestSecondProposalChosen(t *testing.T) {
	a, b, p1w := tunnelPair(t, func(sa, sb *qmSide) {
		sa.ipsec = "gcm: {protocol: esp, ciphers: [aes256gcm16], hmacs: [none]}\nesp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}"
		sa.proposals = "p1: [gcm]\np2: [esp]"
		sa.list = "[p1, p2]"
	})
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if a.x.Chosen.Number != 2 || b.x.Chosen.Number != 2 {
		t.Errorf("chosen %d/%d, want proposal 2", a.x.Chosen.Number, b.x.Chosen.Number)
	}
	checkTshark(t, a.p1, p1w, r.wires)
}

func TestLifetimeRaisedToMinimum(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		sa.lifetime = "60s"
		sa.minLife = "30s"
		sb.minLife = "2m"
	})
	r := runQM(t, a, b, nil)
	if a.child == nil || b.child == nil {
		t.Fatalf("not established: %s%s%v", a.logText(), b.logText(), r.rejects)
	}
	if got := b.text(59); got != "Phase-2 lifetime is too short, reset to min (prop=60, min=120)" {
		t.Errorf("59: %q\n%s", got, b.logText())
	}
	if b.x.Life.LifeSeconds != 120 {
		t.Errorf("responder lifetime %d, want 120", b.x.Life.LifeSeconds)
	}
	for _, rec := range b.back.SAs() {
		if rec.Lifetime.HardSeconds != 120 {
			t.Errorf("%s hard lifetime %d", rec.Ref, rec.Lifetime.HardSeconds)
		}
	}
}

func TestResponderLifetime(t *testing.T) {
	a, b, p1w := tunnelPair(t, func(sa, sb *qmSide) {
		sa.lifetime = "2h"
		sb.lifetime = "1h"
		sb.kbytes = 500000
	})
	r := runQM(t, a, b, nil)
	checkKeys(t, r) // also: both sides installed the same lifetimes
	if got := a.text(61); got != `Received responder lifetime notification: "life_secs=3600, life_kbytes=500000` {
		t.Errorf("61: %q\n%s", got, a.logText())
	}
	if a.x.Life.LifeSeconds != 3600 || a.x.Life.LifeKBytes != 500000 {
		t.Errorf("initiator adopted %+v", a.x.Life)
	}
	checkTshark(t, a.p1, p1w, r.wires)
}

func TestSAPerHostSubnet(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		sb.saPerHost = true
	})
	r := runQM(t, a, b, nil)
	if !b.failed || b.text(63) != notify.SAPerHostRange().Text {
		t.Fatalf("63 expected: %s", b.logText())
	}
	if b.text(52) != "Sending notification to 192.0.2.1 : INVALID-ID-INFORMATION" || !b.has(57) || !b.has(58) {
		t.Errorf("%s", b.logText())
	}
	inf := notifyFrom(t, r.wires[len(r.wires)-1].data, a.p1)
	if inf.Notifies[0].NotifyType != isakmp.InvalidIDInformation {
		t.Errorf("notify %v", inf.Notifies[0].NotifyType)
	}
}

func TestSAPerHostNotSelf(t *testing.T) {
	// B answers any peer (road warrior) with one SA per host; A asks for
	// a host that is not itself.
	sa := qmSide{tunnel: true, local: "198.51.100.5", remote: "198.51.100.128/25"}
	sb := qmSide{tunnel: true, local: "198.51.100.128/25", roadWarr: true, saPerHost: true}
	a, b, _ := pair(t, sa, sb)
	runQM(t, a, b, nil)
	if !b.failed || b.text(64) != notify.SAPerHostNotSelf().Text {
		t.Fatalf("64 expected: %s", b.logText())
	}
}

func TestSAPerHostSelf(t *testing.T) {
	sa := qmSide{tunnel: true, local: "192.0.2.1", remote: "198.51.100.128/25"}
	sb := qmSide{tunnel: true, local: "198.51.100.128/25", roadWarr: true, saPerHost: true}
	a, b, _ := pair(t, sa, sb)
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if len(b.back.Policies()) == 0 {
		t.Errorf("the road warrior responder installed no kernel policies for the negotiated selectors")
	}
}

func TestSelectorsRejected(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		sa.remote = "203.0.113.0/24"
	})
	runQM(t, a, b, nil)
	if got := b.text(54); got != "SPD rejected conn using selectors 203.0.113.0/24 <-> 198.51.100.0/25" {
		t.Errorf("54: %q\n%s", got, b.logText())
	}
	if !b.failed || b.text(52) != "Sending notification to 192.0.2.1 : INVALID-ID-INFORMATION" {
		t.Errorf("%s", b.logText())
	}
}

func TestNarrowedSelectors(t *testing.T) {
	// The responder allows a /24 on each side; the initiator asks for
	// /25s and a protocol and port: accepted as proposed (narrowed).
	sa := qmSide{tunnel: true, local: "198.51.100.0/25", remote: "198.51.100.128/25", proto: "tcp", rport: 443}
	sb := qmSide{tunnel: true, local: "198.51.100.0/24", remote: "198.51.100.0/24"}
	a, b, _ := pair(t, sa, sb)
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if b.x.Local.String() != "198.51.100.128/25[tcp/443]" || b.x.Remote.String() != "198.51.100.0/25[tcp]" {
		t.Errorf("responder selectors %s <-> %s", b.x.Local, b.x.Remote)
	}
}

// TestTampered: a changed byte in QM1, QM2 or QM3 fails decryption or its
// HASH and the message is dropped without state or answer.
func TestTampered(t *testing.T) {
	for i := 0; i < 3; i++ {
		a, b, _ := tunnelPair(t, nil)
		r := runQM(t, a, b, func(n int, d []byte) []byte {
			if n == i {
				d[len(d)-20] ^= 0x40
			}
			return d
		})
		// The initiator installs once it has sent QM3; the responder
		// only after QM3 verifies.
		if (a.child != nil) != (i == 2) || b.child != nil || a.failed || b.failed || len(r.rejects) == 0 {
			t.Errorf("message %d tampered: children %v/%v failed %v/%v rejects %v", i+1, a.child != nil, b.child != nil, a.failed, b.failed, r.rejects)
		}
		if len(b.log) != 0 || len(a.log) != 0 || (i < 2 && len(a.back.SAs())+len(b.back.SAs()) != 0) {
			t.Errorf("message %d tampered: logged %s%s", i+1, a.logText(), b.logText())
		}
	}
}

// TestCommitBit: the initiator's commit bit (RFC 2408, 3.1) makes the
// responder send CONNECTED once its SAs are installed.
func TestCommitBit(t *testing.T) {
	a, b, p1w := tunnelPair(t, nil)
	r := runQM(t, a, b, func(n int, d []byte) []byte {
		if n == 0 {
			d[19] |= byte(isakmp.FlagCommit)
		}
		return d
	})
	checkKeys(t, r)
	last := r.wires[len(r.wires)-1]
	if last.fromA {
		t.Fatal("no CONNECTED from the responder")
	}
	inf := notifyFrom(t, last.data, a.p1)
	if len(inf.Notifies) != 1 || inf.Notifies[0].NotifyType != isakmp.Connected {
		t.Errorf("got %+v", inf.Notifies)
	}
	checkTshark(t, a.p1, p1w, r.wires)
}

// TestIPCompChain: IPComp (a 16-bit CPI, no keys) chained with ESP.
func TestIPCompChain(t *testing.T) {
	a, b, p1w := tunnelPair(t, func(sa, sb *qmSide) {
		sa.ipsec = "comp: {protocol: ipcomp, compression: [deflate]}\nesp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}"
		sa.proposals = "p: [comp, esp]"
		sb.ipsec, sb.proposals = sa.ipsec, sa.proposals
	})
	r := runQM(t, a, b, nil)
	if a.child == nil || b.child == nil {
		t.Fatalf("not established: %v %s%s", r.rejects, a.logText(), b.logText())
	}
	for _, rec := range b.back.SAs() {
		if rec.SA.Protocol == 108 && (rec.SA.Compression == nil || rec.SA.Compression.Name != "deflate" || rec.Ref.SPI > 0xffff) {
			t.Errorf("IPComp SA %+v", rec)
		}
	}
	checkKeys(t, r)
	checkTshark(t, a.p1, p1w, r.wires)
}

// TestRangeSelector: an address range travels as ID_IPV4_ADDR_RANGE and
// is accepted inside the responder's subnet.
func TestRangeSelector(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		sa.local = "198.51.100.1-198.51.100.9"
		sb.remote = "198.51.100.0/25"
	})
	if a.p1 == nil {
		t.Fatal("no phase 1")
	}
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if a.x.idci.IDType != isakmp.IDIPv4AddrRange || b.x.Remote.String() != "198.51.100.1-198.51.100.9" {
		t.Errorf("IDci %v, responder's remote selector %s", a.x.idci.IDType, b.x.Remote)
	}
}

// TestInitiatorPreference: the responder takes the initiator's first
// acceptable proposal, not its own favourite.
func TestInitiatorPreference(t *testing.T) {
	a, b, _ := tunnelPair(t, func(sa, sb *qmSide) {
		two := "e1: {protocol: esp, ciphers: [aes256], hmacs: [sha256]}\ne2: {protocol: esp, ciphers: [3des], hmacs: [sha1]}"
		sa.ipsec, sa.proposals, sa.list = two, "p1: [e2]\np2: [e1]", "[p1, p2]"
		sb.ipsec, sb.proposals, sb.list = two, "p1: [e1]\np2: [e2]", "[p1, p2]"
	})
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if b.x.Chosen.Number != 1 || b.x.Chosen.Protos[0].Transform.CipherName != "3des" {
		t.Errorf("responder chose %d %s", b.x.Chosen.Number, b.x.Chosen.Protos[0].Transform)
	}
}

// TestNoTunnelEndpoints: without a usable local address the Quick Mode
// cannot start (message 67, with 57 and 58).
func TestNoTunnelEndpoints(t *testing.T) {
	a, _, _ := pair(t, qmSide{}, qmSide{})
	a.p1.Local = netip.MustParseAddrPort("0.0.0.0:500")
	conn, _ := a.cfg.Policy.Connection("c")
	x, st, err := NewInitiator(a.env(), a.cfg, a.p1, conn, 1)
	if x != nil || err == nil || len(st.Log) == 0 || st.Log[0].Text != "Tunnel endpoints not specified for Connection c" {
		t.Fatalf("got %v %v %v", x, err, st.Log)
	}
}

// TestInstallRefused: an engine that cannot install ESP (a kernel without
// CONFIG_INET_ESP) fails the Quick Mode cleanly: 57/58 on that side, and
// a Delete tells the peer to drop its half.
func TestInstallRefused(t *testing.T) {
	a, b, _ := tunnelPair(t, nil)
	back := memory.New(memory.Options{Unsupported: []engine.Protocol{engine.ProtoESP}})
	if err := back.Open(); err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	b.back, b.eng = back, engine.New(back, engine.Config{})
	r := runQM(t, a, b, nil)
	if a.child == nil || b.child != nil || !b.failed || !b.has(57) || !b.has(58) {
		t.Fatalf("A child %v, B child %v failed %v\n%s", a.child != nil, b.child != nil, b.failed, b.logText())
	}
	if !strings.Contains(b.text(58), "the SA bundle was not installed") {
		t.Errorf("58: %q", b.text(58))
	}
	inf := notifyFrom(t, r.wires[len(r.wires)-1].data, a.p1)
	if len(inf.Deletes) != 1 || inf.Deletes[0].Protocol != isakmp.ProtoESP {
		t.Errorf("deletes %+v", inf.Deletes)
	}
	if b.back.Reserved() != 0 {
		t.Errorf("%d SPIs left reserved", b.back.Reserved())
	}
}
