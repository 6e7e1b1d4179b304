package phase1

import (
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// consumeScenario is a negotiation stopped before one of its datagrams is
// delivered: the fuzzer's message is consumed there instead.
type consumeScenario struct {
	mode   string
	before int // index of the datagram replaced (MM2 is 1, AM3 is 2)
}

var consumeScenarios = []consumeScenario{
	{"main", 1}, {"main", 2}, {"main", 3}, {"main", 4}, {"main", 5},
	{"aggressive", 1}, {"aggressive", 2},
}

// consumePolicies returns the initiator's and the responder's policy of
// each mode for playUntil: PSK, ECP 256.
func consumePolicies(tb testing.TB) map[string][2]*policymgr.Policy {
	a, b := pskPair("main")
	a.groups, b.groups = "ecp256", "ecp256"
	am, bm := a, b
	am.mode, bm.mode = "aggressive", "aggressive"
	return map[string][2]*policymgr.Policy{
		"main":       {policyFor(tb, a), policyFor(tb, b)},
		"aggressive": {policyFor(tb, am), policyFor(tb, bm)},
	}
}

// playUntil runs a PSK negotiation between pi and pr and stops before the
// datagram numbered before is delivered. It returns the exchange that
// would have received it. The group is ECP 256, so that a replay costs
// little; both sides run the NAT-T and DPD hooks, so that NAT-D payloads
// are sent and checked.
func playUntil(tb testing.TB, pi, pr *policymgr.Policy, before int) *Exchange {
	env := testEnv()
	conn, _ := pi.Connection("c")
	ic := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	rc := [8]byte{9, 10, 11, 12, 13, 14, 15, 16}
	hooks := NewHooks(NATTConfig{Port: NATTPort, DPD: true})
	xi, st, err := NewInitiator(env, Config{Policy: pi, Hooks: hooks}, conn, ic, addrA, addrB)
	if err != nil {
		tb.Fatal(err)
	}
	var xr *Exchange
	run := func(x *Exchange, st daemon.Result) []byte {
		for st.Work != nil {
			st = x.Resume(env, st.Work())
		}
		return st.Send
	}
	out, toR := run(xi, st), true
	for n := 0; n < before; n++ {
		if out == nil {
			tb.Fatalf("negotiation stopped after %d datagrams", n)
		}
		switch {
		case toR && xr == nil:
			xr, st = NewResponder(env, Config{Policy: pr, Hooks: hooks}, ic, rc, addrB, addrA, out)
			out = run(xr, st)
		case toR:
			out = run(xr, xr.Consume(env, out))
		default:
			out = run(xi, xi.Consume(env, out))
		}
		toR = !toR
	}
	if toR {
		return xr
	}
	return xi
}

// FuzzConsume hands arbitrary datagrams to a Main or Aggressive Mode
// exchange in each state where it waits for the peer (both roles), and
// runs the work it asks for: every Consume of a peer's message after the
// first. data[0] picks the state (low bits) and whether data[2:] is a
// whole datagram (its cookies set to the SA's, so that it reaches the
// payload checks) or, with bit 7, a payload chain that is encrypted under
// the SA's current key and IV, starting with payload type data[1], so that
// the checks after decryption (MM5, MM6, AM3, protected notifies) are
// reached too. Nothing may panic, and a message the exchange rejects must
// leave its state as it was.
func FuzzConsume(f *testing.F) {
	for i := range consumeScenarios {
		sel := byte(i)
		f.Add(append([]byte{sel, 0}, plainSeed(i)...))
		f.Add(append([]byte{sel | 0x80, byte(isakmp.PayloadID)}, idHashSeed()...))
		f.Add(append([]byte{sel | 0x80, byte(isakmp.PayloadHASH)}, hashNotifySeed()...))
	}
	pols := consumePolicies(f)
	env := testEnv()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		sc := consumeScenarios[int(data[0]&0x7f)%len(consumeScenarios)]
		p := pols[sc.mode]
		x := playUntil(t, p[0], p[1], sc.before)
		s := x.SA
		var msg []byte
		if data[0]&0x80 != 0 {
			if s.cipher == nil {
				return
			}
			msg = sealRaw(t, s, isakmp.PayloadType(data[1]), data[2:])
		} else {
			msg = append([]byte(nil), data[2:]...)
			if len(msg) >= 16 {
				copy(msg, s.ICookie[:])
				copy(msg[8:], s.RCookie[:])
			}
		}
		before := s.State
		st := x.Consume(env, msg)
		if st.Reject != nil && s.State != before {
			t.Fatalf("rejected message moved %s to %s", before, s.State)
		}
		for n := 0; st.Work != nil && n < 4; n++ {
			st = x.Resume(env, st.Work())
		}
	})
}

// sealRaw encrypts body as the peer of s would its next phase 1 message:
// under Ka, from the IV s expects, zero-padded to whole blocks.
func sealRaw(t *testing.T, s *SA, next isakmp.PayloadType, body []byte) []byte {
	bs := s.cipher.BlockSize()
	ct := make([]byte, len(body)+bs-len(body)%bs)
	copy(ct, body)
	if err := s.cipher.EncryptCBC(ct, ct, s.iv); err != nil {
		t.Fatal(err)
	}
	h := s.header()
	h.Flags |= isakmp.FlagEncryption
	h.NextPayload = next
	m := &isakmp.Message{Header: h, Encrypted: ct}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// plainSeed is a clear message of the kind the scenario's state waits
// for, with placeholder cookies.
func plainSeed(i int) []byte {
	var ps []isakmp.Payload
	ke := &isakmp.KE{Data: make([]byte, 64)}
	n := &isakmp.Nonce{Data: make([]byte, 32)}
	id := &isakmp.ID{IDType: isakmp.IDIPv4Addr, Data: []byte{192, 0, 2, 2}}
	sa := chosenSAPayload(1, Transform{Cipher: isakmp.EncryptionAlgorithm(7), KeyLength: 128,
		Hash: isakmp.HashAlgorithm(4), Group: isakmp.GroupDescription(19), Auth: isakmp.AuthPSK, LifeSeconds: 28800})
	mode := isakmp.ExchangeMain
	switch consumeScenarios[i] {
	case consumeScenario{"main", 1}:
		ps = []isakmp.Payload{sa}
	case consumeScenario{"main", 2}, consumeScenario{"main", 3}:
		ps = []isakmp.Payload{ke, n, &isakmp.NATD{Hash: make([]byte, 32)}, &isakmp.NATD{Hash: make([]byte, 32)}}
	case consumeScenario{"aggressive", 1}:
		mode = isakmp.ExchangeAggressive
		ps = []isakmp.Payload{sa, ke, n, id, &isakmp.Hash{Data: make([]byte, 32)}}
	default:
		mode = consumeScenarioMode(i)
		ps = []isakmp.Payload{&isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP,
			SPI: make([]byte, 16), NotifyType: isakmp.PayloadMalformed}}
		m := &isakmp.Message{Header: isakmp.Header{Exchange: isakmp.ExchangeInformational}, Payloads: ps}
		b, _ := m.Encode()
		return b
	}
	m := &isakmp.Message{Header: isakmp.Header{Exchange: mode}, Payloads: ps}
	b, _ := m.Encode()
	return b
}

func consumeScenarioMode(i int) isakmp.ExchangeType {
	if consumeScenarios[i].mode == "aggressive" {
		return isakmp.ExchangeAggressive
	}
	return isakmp.ExchangeMain
}

// idHashSeed is the plaintext chain of MM5/MM6: ID, HASH.
func idHashSeed() []byte {
	b, _ := isakmp.EncodeChain([]isakmp.Payload{
		&isakmp.ID{IDType: isakmp.IDIPv4Addr, Data: []byte{192, 0, 2, 1}},
		&isakmp.Hash{Data: make([]byte, 32)}})
	return b
}

// hashNotifySeed is the plaintext chain of AM3 with INITIAL-CONTACT, or
// of a protected informational: HASH, N.
func hashNotifySeed() []byte {
	b, _ := isakmp.EncodeChain([]isakmp.Payload{
		&isakmp.Hash{Data: make([]byte, 32)},
		&isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP,
			SPI: make([]byte, 16), NotifyType: isakmp.InitialContact}})
	return b
}

// TestPlayUntil checks that FuzzConsume's scenarios stop where they say:
// the exchange waits for the peer's next message in the state named.
func TestPlayUntil(t *testing.T) {
	pols := consumePolicies(t)
	want := []State{StateMMISentSA, StateMMRSentSA, StateMMISentKE, StateMMRSentKE, StateMMISentAuth,
		StateAMISentSA, StateAMRSentSA}
	for i, sc := range consumeScenarios {
		x := playUntil(t, pols[sc.mode][0], pols[sc.mode][1], sc.before)
		if x.SA.State != want[i] {
			t.Errorf("%s before datagram %d: state %s, want %s", sc.mode, sc.before, x.SA.State, want[i])
		}
		if (x.SA.cipher != nil) != (want[i] == StateMMRSentKE || want[i] == StateMMISentAuth || want[i] == StateAMRSentSA) {
			t.Errorf("%s before datagram %d: keys %v", sc.mode, sc.before, x.SA.cipher != nil)
		}
	}
}
