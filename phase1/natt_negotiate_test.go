package phase1

import (
	"crypto/rand"
	"net/netip"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
)

// TestNegotiateThroughNAT runs Main Mode (and Aggressive Mode) PSK between two exchanges with
// NewHooks, through a port-translating NAT in front of the initiator
// (192.0.2.1:500 appears as 192.0.2.1:31000, then :31001 for port 4500).
// Both ends announce DPD and NAT-T, NAT-D is exchanged in MM3/MM4, the
// initiator floats to 4500 before MM5 and finds itself behind the NAT, the
// responder finds the initiator behind it and follows it to its new port.
// Then informationals flow both ways on the negotiated SA: R-U-THERE from
// the responder, R-U-THERE-ACK back, each opened with the other side's keys.
func TestNegotiateThroughNAT(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) { negotiateThroughNAT(t, mode) })
	}
}

func negotiateThroughNAT(t *testing.T, mode string) (initiator, responder *SA) {
	a := side{mode: mode, auth: "psk", psk: "nat psk", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self = "b"
	pi, pr := policyFor(t, a), policyFor(t, b)
	conn, _ := pi.Connection("c")
	env := testEnv()
	hooks := NewHooks(NATTConfig{Port: NATTPort, DPD: true})
	ic := [8]byte{1, 1, 2, 3, 5, 8, 13, 21}
	rc := [8]byte{34, 55, 89, 144, 233, 1, 2, 3}
	outside500 := netip.AddrPortFrom(addrA.Addr(), 31000)
	outside4500 := netip.AddrPortFrom(addrA.Addr(), 31001)

	var natdSeen int
	l := &Loopback{Env: env, Initiator: Config{Policy: pi, Hooks: hooks}, Responder: Config{Policy: pr, Hooks: hooks},
		Conn: conn, ICookie: ic, RCookie: rc, I: addrA, R: addrB, Seen: outside500,
		Step: func(isI bool, st daemon.Result) {
			if st.Reject != nil || st.DeleteSA {
				t.Fatalf("initiator=%v: %v %v", isI, st.Reject, st.Log)
			}
			if m, err := isakmp.Decode(st.Send); st.Send != nil && err == nil {
				for _, p := range m.Payloads {
					if _, ok := p.(*isakmp.NATD); ok {
						natdSeen++
					}
				}
			}
		},
		Arrival: func(run *LoopbackRun) (netip.AddrPort, netip.AddrPort, uint16, bool) {
			// Once floated the datagram leaves the NAT from its port 4500
			// mapping, and the daemon says where it arrived.
			return netip.AddrPortFrom(addrB.Addr(), NATTPort), outside4500, NATTPort, run.I.SA.Floated
		}}
	run, err := l.Run()
	if err != nil {
		t.Fatal(err)
	}
	if run.R == nil {
		t.Fatal("the responder refused MM1")
	}
	i, s := run.I.SA, run.R.SA
	if i.State != StateEstablished || s.State != StateEstablished {
		t.Fatalf("states %v %v", i.State, s.State)
	}
	// MM3 and MM4 are in the clear; of AM2 and AM3 only AM2 is.
	if want := map[string]int{"main": 4, "aggressive": 2}[mode]; natdSeen != want {
		t.Errorf("%d NAT-D payloads in clear messages, want %d", natdSeen, want)
	}
	if !i.PeerDPD || !s.PeerDPD || !i.PeerNATT || !s.PeerNATT || i.NATTDraft || s.NATTDraft {
		t.Errorf("extensions: i dpd %v natt %v, r dpd %v natt %v", i.PeerDPD, i.PeerNATT, s.PeerDPD, s.PeerNATT)
	}
	if !i.LocalBehindNAT || i.RemoteBehindNAT || s.LocalBehindNAT || !s.RemoteBehindNAT {
		t.Errorf("NAT: initiator %v/%v responder %v/%v", i.LocalBehindNAT, i.RemoteBehindNAT, s.LocalBehindNAT, s.RemoteBehindNAT)
	}
	if !i.Floated || i.Local.Port() != NATTPort || i.Remote.Port() != NATTPort {
		t.Errorf("initiator not floated: %v -> %v", i.Local, i.Remote)
	}
	if !s.Floated || s.Remote != outside4500 || s.Local.Port() != NATTPort {
		t.Errorf("responder did not follow: %v -> %v", s.Local, s.Remote)
	}
	if NewKeepalive(i, DefaultKeepaliveInterval, env.Now) == nil || NewKeepalive(s, DefaultKeepaliveInterval, env.Now) != nil {
		t.Error("keepalives: only the initiator, behind the NAT, sends them")
	}

	ki, ok1 := i.InfoKeys()
	kr, ok2 := s.InfoKeys()
	if !ok1 || !ok2 {
		t.Fatal("established SA without informational keys")
	}
	mid, _ := isakmp.NewMessageID(rand.Reader, nil)
	probe, err := SealInformational(kr, mid, []isakmp.Payload{kr.DPDNotify(false, 41)})
	if err != nil {
		t.Fatal(err)
	}
	inf, err := OpenInformational(probe, &ki)
	if err != nil {
		t.Fatal(err)
	}
	o := ReceiveInformational(inf, i.ICookie, i.RCookie, i.Remote)
	if !o.RUThere || o.RUThereSeq != 41 {
		t.Fatalf("initiator got %+v", o)
	}
	mid2, _ := isakmp.NewMessageID(rand.Reader, nil)
	ack, _ := SealInformational(ki, mid2, []isakmp.Payload{ki.DPDNotify(true, o.RUThereSeq)})
	inf, err = OpenInformational(ack, &kr)
	if err != nil {
		t.Fatal(err)
	}
	if o := ReceiveInformational(inf, s.ICookie, s.RCookie, s.Remote); !o.RUThereAck || o.AckSeq != 41 {
		t.Errorf("responder got %+v", o)
	}
	return i, s
}
