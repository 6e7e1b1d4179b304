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

	x, st, err := NewInitiator(env, Config{Policy: pi, Hooks: hooks}, conn, ic, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	var r *Exchange
	var natdSeen int
	run := func(x *Exchange, st daemon.Result) daemon.Result {
		for st.Work != nil && st.Reject == nil {
			st = x.Resume(env, st.Work())
		}
		return st
	}
	st = run(x, st)
	for n := 0; st.Send != nil && n < 10; n++ {
		// Initiator to responder, through the NAT.
		if m, err := isakmp.Decode(st.Send); err == nil {
			for _, p := range m.Payloads {
				if _, ok := p.(*isakmp.NATD); ok {
					natdSeen++
				}
			}
		}
		if r == nil {
			r, st = NewResponder(env, Config{Policy: pr, Hooks: hooks}, ic, rc, addrB, outside500, st.Send)
			if r == nil {
				t.Fatalf("responder refused MM1: %v %v", st.Reject, st.Log)
			}
		} else {
			if x.SA.Floated {
				// The datagram now leaves the NAT from its port 4500
				// mapping, and the daemon says where it arrived.
				st = r.ConsumeFrom(env, st.Send, netip.AddrPortFrom(addrB.Addr(), NATTPort), outside4500, NATTPort)
			} else {
				st = r.Consume(env, st.Send)
			}
		}
		st = run(r, st)
		if st.Reject != nil || st.DeleteSA {
			t.Fatalf("responder: %v %v", st.Reject, st.Log)
		}
		if st.Send == nil {
			break
		}
		if m, err := isakmp.Decode(st.Send); err == nil {
			for _, p := range m.Payloads {
				if _, ok := p.(*isakmp.NATD); ok {
					natdSeen++
				}
			}
		}
		st = run(x, x.Consume(env, st.Send))
		if st.Reject != nil || st.DeleteSA {
			t.Fatalf("initiator: %v %v", st.Reject, st.Log)
		}
	}
	i, s := x.SA, r.SA
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
