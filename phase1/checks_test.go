package phase1

import (
	"crypto/rand"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"net/netip"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

func TestCheckNonce(t *testing.T) {
	for _, c := range []struct {
		n  int
		ok bool
	}{{0, false}, {7, false}, {8, true}, {32, true}, {256, true}, {257, false}} {
		err := checkNonce(&isakmp.Nonce{Data: make([]byte, c.n)})
		if (err == nil) != c.ok {
			t.Errorf("nonce of %d bytes: %v", c.n, err)
		}
		if err != nil && isakmp.NotifyTypeOf(err, 0) != isakmp.PayloadMalformed {
			t.Errorf("nonce of %d bytes: notify %v", c.n, isakmp.NotifyTypeOf(err, 0))
		}
	}
	if checkNonce(nil) == nil {
		t.Error("missing nonce accepted")
	}
}

func TestCheckKE(t *testing.T) {
	for _, c := range []struct {
		g    ikecrypto.GroupID
		good int
	}{{ikecrypto.GroupMODP1024, 128}, {ikecrypto.GroupMODP2048, 256}, {ikecrypto.GroupECP256, 64}, {ikecrypto.GroupECP384, 96}} {
		g, err := ikecrypto.NewGroup(c.g)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, c.good - 1, c.good, c.good + 1} {
			err := checkKE(&isakmp.KE{Data: make([]byte, n)}, g)
			if (err == nil) != (n == c.good) {
				t.Errorf("%s KE of %d bytes: %v", c.g, n, err)
			}
			if err != nil && isakmp.NotifyTypeOf(err, 0) != isakmp.InvalidKeyInformation {
				t.Errorf("%s KE of %d bytes: notify %v", c.g, n, isakmp.NotifyTypeOf(err, 0))
			}
		}
	}
}

// TestCheckID is RFC 2407, 4.6.2's rule for phase 1 identities: protocol
// and port 0/0 or UDP/500, and a type phase 1 can authenticate.
func TestCheckID(t *testing.T) {
	addr := isakmp.IDFromAddr(addrA.Addr())
	for _, c := range []struct {
		name  string
		id    *isakmp.ID
		proto uint8
		port  uint16
		ok    bool
	}{
		{"0/0", addr, 0, 0, true},
		{"udp/500", addr, 17, 500, true},
		{"udp/4500", addr, 17, 4500, false},
		{"tcp/500", addr, 6, 500, false},
		{"0/500", addr, 0, 500, false},
		{"fqdn", isakmp.IDFromFQDN("a.example.org"), 0, 0, true},
		{"empty fqdn", &isakmp.ID{IDType: isakmp.IDFQDN}, 0, 0, false},
		{"subnet", isakmp.IDFromPrefix(netip.MustParsePrefix("192.0.2.0/24")), 0, 0, false},
		{"short address", &isakmp.ID{IDType: isakmp.IDIPv4Addr, Data: []byte{192, 0, 2}}, 0, 0, false},
	} {
		id := *c.id
		id.Protocol, id.Port = c.proto, c.port
		err := checkID(&id)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && isakmp.NotifyTypeOf(err, 0) != isakmp.InvalidIDInformation {
			t.Errorf("%s: notify %v", c.name, isakmp.NotifyTypeOf(err, 0))
		}
	}
}

// TestParseTransformRoundTrip encodes transforms as strongSwan orders the
// attributes and reads them back; bad attribute sets are refused.
func TestParseTransformRoundTrip(t *testing.T) {
	in := Transform{Cipher: isakmp.EncAESCBC, KeyLength: 256, Hash: isakmp.HashSHA2256, Group: isakmp.GroupECP256,
		Auth: isakmp.AuthECDSA256, LifeSeconds: 86400, LifeKBytes: 1000}
	out, err := parseTransform(&isakmp.Transform{ID: uint8(isakmp.KeyIKE), Attributes: in.attributes()})
	if err != nil || out != in {
		t.Fatalf("round trip: %v %v", out, err)
	}
	// 86400 does not fit TV: a 4-byte TLV, as strongSwan encodes it.
	if a, _ := in.attributes().Get(uint16(isakmp.AttrLifeDuration)); a.Basic || len(a.Data) != 4 {
		t.Fatalf("life duration encoded as %v", a)
	}
	for name, as := range map[string]isakmp.Attributes{
		"no cipher":      {isakmp.BasicAttr(isakmp.AttrHashAlgorithm, isakmp.HashSHA), isakmp.BasicAttr(isakmp.AttrGroupDescription, isakmp.GroupMODP2048), isakmp.BasicAttr(isakmp.AttrAuthMethod, isakmp.AuthPSK)},
		"duration alone": append(in.attributes()[:5:5], isakmp.UintAttr(isakmp.AttrLifeDuration, 5)),
		"private group":  append(in.attributes()[:5:5], isakmp.VarAttr(isakmp.AttrGroupPrime, []byte{1, 2, 3})),
		"repeated hash":  append(in.attributes()[:5:5], isakmp.BasicAttr(isakmp.AttrHashAlgorithm, isakmp.HashSHA)),
	} {
		if _, err := parseTransform(&isakmp.Transform{ID: uint8(isakmp.KeyIKE), Attributes: as}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestWrongStateDropped: a message that does not fit the state is
// rejected and leaves the exchange unchanged, and the negotiation still
// completes afterwards.
func TestWrongStateDropped(t *testing.T) {
	a, b := pskPair("main")
	pi, pr := policyFor(t, a), policyFor(t, b)
	env := testEnv()
	conn, _ := pi.Connection("c")
	ic, rc := [8]byte{1}, [8]byte{2}
	xi, st, _ := NewInitiator(env, Config{Policy: pi}, conn, ic, addrA, addrB)
	mm1 := st.Send
	xr, st := NewResponder(env, Config{Policy: pr}, ic, rc, addrB, addrA, mm1)
	mm2 := st.Send
	// MM1 again at the responder, now waiting for MM3: dropped.
	if st := xr.Consume(env, mm1); st.Reject == nil || xr.SA.State != StateMMRSentSA {
		t.Fatalf("MM1 in %s: %+v", xr.SA.State, st)
	}
	st = drive(t, xi, env, xi.Consume(env, mm2))
	mm3 := st.Send
	// MM2 again at the initiator, now waiting for MM4: dropped.
	if st := xi.Consume(env, mm2); st.Reject == nil || xi.SA.State != StateMMISentKE {
		t.Fatalf("MM2 in %s: %+v", xi.SA.State, st)
	}
	st = drive(t, xr, env, xr.Consume(env, mm3))
	mm4 := st.Send
	st = drive(t, xi, env, xi.Consume(env, mm4))
	mm5 := st.Send
	// MM3 at the responder waiting for MM5: dropped, not fatal.
	if st := xr.Consume(env, mm3); st.Reject == nil || st.DeleteSA || xr.SA.State != StateMMRSentKE {
		t.Fatalf("MM3 in %s: %+v", xr.SA.State, st)
	}
	// A work result while none is awaited: refused.
	if st := xr.Resume(env, &job{}); st.Reject == nil {
		t.Fatal("unexpected work result accepted")
	}
	st = drive(t, xr, env, xr.Consume(env, mm5))
	if !st.Established {
		t.Fatal("responder not established")
	}
	st = drive(t, xi, env, xi.Consume(env, st.Send))
	if !st.Established {
		t.Fatal("initiator not established")
	}
	// Anything after establishment is dropped.
	if st := xi.Consume(env, mm4); st.Reject == nil || xi.SA.State != StateEstablished {
		t.Fatal("message after establishment accepted")
	}
	var ws *WrongStateError
	if st := xr.Consume(env, mm5); !errors.As(st.Reject, &ws) {
		t.Fatalf("MM5 after establishment: %v", st.Reject)
	}
}

// TestHostileInputNoPanic feeds random datagrams and mutations of real
// ones to both roles in every state a negotiation passes through; nothing
// may panic, and a mutation must not establish an SA with a changed peer.
func TestHostileInputNoPanic(t *testing.T) {
	a, b := pskPair("main")
	pi, pr := policyFor(t, a), policyFor(t, b)
	o := negotiate(t, pi, pr)
	if !o.iEst || !o.rEst {
		t.Fatal("baseline negotiation failed")
	}
	env := testEnv()
	rng := mrand.New(mrand.NewPCG(1, 2))
	conn, _ := pi.Connection("c")
	ic, rc := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, [8]byte{9, 10, 11, 12, 13, 14, 15, 16}
	mutate := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		switch rng.IntN(3) {
		case 0:
			for k := 0; k < 1+rng.IntN(4); k++ {
				i := rng.IntN(len(c))
				c[i] ^= byte(1 + rng.IntN(255))
			}
		case 1:
			c = c[:rng.IntN(len(c)+1)]
		default:
			n, _ := rand.Int(rand.Reader, big.NewInt(600))
			c = make([]byte, n.Int64())
			rand.Read(c)
		}
		return c
	}
	for iter := 0; iter < 300; iter++ {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			// Replay the good exchange up to a random point, then inject.
			xi, st, _ := NewInitiator(env, Config{Policy: pi}, conn, ic, addrA, addrB)
			var xr *Exchange
			cut := rng.IntN(len(o.wires))
			for k, w := range o.wires[:cut+1] {
				data := w.data
				if k == cut {
					data = mutate(data)
				}
				if w.fromI {
					if xr == nil {
						xr, st = NewResponder(env, Config{Policy: pr}, ic, rc, addrB, addrA, data)
						if xr == nil {
							return
						}
					} else {
						st = xr.Consume(env, data)
					}
					for st.Work != nil {
						st = xr.Resume(env, st.Work())
					}
				} else {
					st = xi.Consume(env, data)
					for st.Work != nil {
						st = xi.Resume(env, st.Work())
					}
				}
			}
		}()
	}
}
