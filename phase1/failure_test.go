package phase1

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
)

func pskPair(mode string) (side, side) {
	a := side{mode: mode, auth: "psk", psk: "shared", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self = "b"
	return a, b
}

// logHas reports whether a catalog message numbered num whose text holds
// sub was logged on the given side.
// mustFail fails the test unless neither side established and the
// initiator failed, and the responder too when responder is true.
func (o *outcome) mustFail(t *testing.T, responder bool) {
	t.Helper()
	if o.iEst || o.rEst || !o.iFail || (responder && !o.rFail) {
		t.Fatalf("i est=%v fail=%v, r est=%v fail=%v\n%s", o.iEst, o.iFail, o.rEst, o.rFail, o.logText())
	}
}

// mustLog fails the test unless the side logged message num with each of
// subs in its text.
func (o *outcome) mustLog(t *testing.T, initiator bool, num int, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !o.logHas(initiator, num, sub) {
			t.Fatalf("initiator=%v: no message %d with %q:\n%s", initiator, num, sub, o.logText())
		}
	}
}

func (o *outcome) logHas(initiator bool, num int, sub string) bool {
	l := o.rLog
	if initiator {
		l = o.iLog
	}
	for _, m := range l {
		if m.Num == num && strings.Contains(m.Text, sub) {
			return true
		}
	}
	return false
}

// sentNotify returns the notify types of the unencrypted informational
// messages one side sent.
func (o *outcome) sentNotify(fromI bool) []isakmp.NotifyType {
	var out []isakmp.NotifyType
	for _, w := range o.wires {
		if w.fromI != fromI {
			continue
		}
		m, err := isakmp.Decode(w.data)
		if err != nil || m.Header.Exchange != isakmp.ExchangeInformational || m.Header.Flags&isakmp.FlagEncryption != 0 {
			continue
		}
		for _, p := range m.Payloads {
			if n, ok := p.(*isakmp.Notification); ok {
				out = append(out, n.NotifyType)
			}
		}
	}
	return out
}

// wrongPSK negotiates mode between two sides whose pre-shared keys
// differ.
func wrongPSK(t *testing.T, mode string) *outcome {
	a, b := pskPair(mode)
	b.psk = "different"
	return negotiateSides(t, a, b)
}

func TestWrongPSKMainMode(t *testing.T) {
	o := wrongPSK(t, "main")
	o.mustFail(t, true)
	// The responder cannot parse MM5 (Ka differs): PAYLOAD-MALFORMED as
	// strongSwan answers, messages 46 and 52.
	o.mustLog(t, false, 46, "pre-shared keys probably differ")
	o.mustLog(t, false, 52, "PAYLOAD-MALFORMED")
	// The initiator cannot read that encrypted notify either and fails
	// with message 46 naming the likely cause.
	o.mustLog(t, true, 46, "pre-shared keys probably differ")
	checkTshark(t, o)
}

func TestWrongPSKAggressiveMode(t *testing.T) {
	o := wrongPSK(t, "aggressive")
	o.mustFail(t, false)
	// The initiator checks HASH_R first (AM2) and refuses it.
	o.mustLog(t, true, 46, "wrong pre-shared key")
	o.mustLog(t, true, 52, "AUTHENTICATION-FAILED")
}

func TestNoProposalChosen(t *testing.T) {
	forModes(t, func(t *testing.T, a, b side) {
		a.ciphers, b.ciphers = "aes128, aes256", "3des"
		o := negotiateSides(t, a, b)
		o.mustFail(t, true)
		// The responder's message 46 names the attribute and both
		// sets of values.
		o.mustLog(t, false, 46, "encryption algorithm offered AES-CBC,", "configured 3DES-CBC")
		o.mustLog(t, false, 52, "NO-PROPOSAL-CHOSEN")
		if n := o.sentNotify(false); len(n) != 1 || n[0] != isakmp.NoProposalChosen {
			t.Fatalf("responder sent %v", n)
		}
		// The initiator receives it: 48, 51 and 46.
		for _, num := range []int{48, 51, 46} {
			o.mustLog(t, true, num, "NO-PROPOSAL-CHOSEN")
		}
		checkTshark(t, o)
	})
}

func TestNoProposalGroupNamed(t *testing.T) {
	a, b := pskPair("main")
	a.groups, b.groups = "modp2048", "ecp256, ecp384"
	o := negotiateSides(t, a, b)
	if !o.logHas(false, 46, "group offered MODP-2048") && !o.logHas(false, 46, "group offered") {
		t.Fatalf("responder reason:\n%s", o.logText())
	}
}

func TestUnknownPeer(t *testing.T) {
	a, b := pskPair("main")
	pb := policyFor(t, b)
	// The responder's only connection is for another peer address.
	pb.Connections[0].RemoteGW = addrB.Addr().Next().Next()
	pb.Connections[0].Remote.Addr.From, pb.Connections[0].Remote.Addr.To = pb.Connections[0].RemoteGW, pb.Connections[0].RemoteGW
	o := negotiate(t, policyFor(t, a), pb)
	if o.iEst || o.rEst || o.r != nil {
		t.Fatal("an unknown peer got an exchange")
	}
	if !o.has(false, 54) || !o.logHas(false, 52, "NO-PROPOSAL-CHOSEN") {
		t.Fatalf("responder messages:\n%s", o.logText())
	}
	o.mustLog(t, true, 51, "NO-PROPOSAL-CHOSEN")
}

func TestRemoteIDMismatch(t *testing.T) {
	forModes(t, func(t *testing.T, a, b side) {
		a.localID = "fqdn:intruder.example.org"
		b.remoteID = "fqdn:a.example.org"
		o := negotiateSides(t, a, b)
		if o.iEst || o.rEst {
			t.Fatalf("established with the wrong identity\n%s", o.logText())
		}
		if !o.logHas(false, 41, "intruder.example.org") || !o.logHas(false, 52, "INVALID-ID-INFORMATION") {
			t.Fatalf("responder messages:\n%s", o.logText())
		}
	})
}

func TestLifetimeRaisedToMinimum(t *testing.T) {
	forModes(t, func(t *testing.T, a, b side) {
		a.lifetime = "2m"
		a.minLife = "1m"
		b.minLife = "10m"
		o := negotiateSides(t, a, b)
		if !o.iEst || !o.rEst {
			t.Fatalf("not established\n%s", o.logText())
		}
		o.mustLog(t, false, 47, "prop=120, min=600")
		if o.i.SA.Transform.LifeSeconds != 600 || o.r.SA.Transform.LifeSeconds != 600 {
			t.Fatalf("lifetimes %d/%d, want 600", o.i.SA.Transform.LifeSeconds, o.r.SA.Transform.LifeSeconds)
		}
	})
}

func TestResponderPicksInitiatorsFirstAcceptable(t *testing.T) {
	a, b := pskPair("main")
	a.ciphers, a.groups = "3des, aes256, aes128", "modp2048"
	b.ciphers = "aes128, aes256"
	o := negotiateSides(t, a, b)
	if !o.iEst || !o.rEst {
		t.Fatalf("not established\n%s", o.logText())
	}
	if got := o.r.SA.Transform; got.Cipher != isakmp.EncAESCBC || got.KeyLength != 256 || o.r.SA.TransformNumber != 2 {
		t.Fatalf("chose %v (#%d), want the initiator's first acceptable: AES-256, #2", got, o.r.SA.TransformNumber)
	}
}

func TestMissingPrivateKey(t *testing.T) {
	a := side{mode: "main", auth: "rsa", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self = "b"
	pb := policyFor(t, b)
	ike := *pb.Connections[0].IKE
	cert := *ike.Cert
	cert.Key = nil
	ike.Cert, ike.Certificate = &cert, ""
	pb.Connections[0].IKE = &ike
	o := negotiate(t, policyFor(t, a), pb)
	if o.rEst || !o.has(false, 49) {
		t.Fatalf("responder without a private key:\n%s", o.logText())
	}
}

// TestConnectionCALimitsPeers: a responder whose connection names a CA
// (ike.ca) authenticates only peers that CA certifies, although it trusts
// the other CA too.
func TestConnectionCALimitsPeers(t *testing.T) {
	a := side{mode: "main", auth: "rsa", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self, b.trustAlso = "b", "ca-ec"
	for _, tc := range []struct {
		limit string
		ok    bool
	}{{"ca", true}, {"also", false}, {"", true}} {
		b.limitCA = tc.limit
		o := negotiateSides(t, a, b)
		if o.rEst != tc.ok {
			t.Fatalf("ca %q: responder established=%v, want %v\n%s", tc.limit, o.rEst, tc.ok, o.logText())
		}
		if !tc.ok && !o.logHas(false, 46, "certificate not trusted") {
			t.Errorf("ca %q: the responder's message 46 does not say the peer is not trusted\n%s", tc.limit, o.logText())
		}
	}
}

// TestFailureNotifyReadableByPeer: when phase 1 fails on the identity in
// MM5 (responder) or MM6 (initiator), the INVALID-ID-INFORMATION notify is
// protected from the last block of the message that failed, which is the
// IV the peer that sent it derives from (strongSwan reads it: "received
// INVALID_ID_INFORMATION error notify"). Opened with the peer's own keys
// and IV chain, it verifies.
func TestFailureNotifyReadableByPeer(t *testing.T) {
	for _, initiatorFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("initiator-fails=%v", initiatorFails), func(t *testing.T) {
			a, b := pskPair("main")
			if initiatorFails {
				a.remoteID = "fqdn:someone-else.example"
			} else {
				b.remoteID = "fqdn:someone-else.example"
			}
			o := negotiateSides(t, a, b)
			failing, peer := o.r, o.i
			if initiatorFails {
				failing, peer = o.i, o.r
			}
			if failing == nil || failing.SA.State != StateFailed {
				t.Fatalf("no failure:\n%s", o.logText())
			}
			var notifyMsg []byte
			for _, w := range o.wires {
				if w.fromI == initiatorFails && isakmp.ExchangeType(w.data[18]) == isakmp.ExchangeInformational {
					notifyMsg = w.data
				}
			}
			if notifyMsg == nil {
				t.Fatalf("no notify sent:\n%s", o.logText())
			}
			k, ok := peer.SA.InfoKeys()
			if !ok {
				t.Fatal("the peer has no keys")
			}
			inf, err := OpenInformational(notifyMsg, &k)
			if err != nil {
				t.Fatalf("the peer cannot open the notify: %v", err)
			}
			if len(inf.Notifies) != 1 || inf.Notifies[0].NotifyType != isakmp.InvalidIDInformation {
				t.Errorf("notifies %+v", inf.Notifies)
			}
			// The responder that sent MM6 holds the SA as established
			// (strongSwan ignores an error notify then): a Delete of the
			// ISAKMP SA follows, which it can open too. A responder that
			// fails MM5 sends none: its peer is still negotiating.
			if !initiatorFails {
				if len(o.also) != 0 {
					t.Errorf("responder sent %d more datagrams", len(o.also))
				}
				return
			}
			if len(o.also) != 1 {
				t.Fatalf("initiator sent %d datagrams after the notify, want the Delete", len(o.also))
			}
			del, err := OpenInformational(o.also[0].data, &k)
			if err != nil {
				t.Fatalf("the peer cannot open the Delete: %v", err)
			}
			out := ReceiveInformational(del, peer.SA.ICookie, peer.SA.RCookie, addrA)
			if !out.DeleteISAKMP {
				t.Errorf("the Delete does not delete the ISAKMP SA: %+v", del)
			}
		})
	}
}

// TestRefusalIsPhase1Failure: the responder's NO-PROPOSAL-CHOSEN to our
// MM1 (a clear informational) ends our half-open SA with 48 and 51, and
// with message 46 naming the notify, since our exchange never sees it.
func TestRefusalIsPhase1Failure(t *testing.T) {
	a, _ := pskPair("main")
	pa := policyFor(t, a)
	conn, _ := pa.Connection("c")
	x, _, err := NewInitiator(testEnv(), Config{Policy: pa}, conn, [8]byte{1}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	rc := [8]byte{2}
	refusal := &isakmp.Message{
		Header: isakmp.Header{InitiatorCookie: x.SA.ICookie, ResponderCookie: rc, Exchange: isakmp.ExchangeInformational, MessageID: 7},
		Payloads: []isakmp.Payload{&isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP,
			SPI: append(x.SA.ICookie[:], rc[:]...), NotifyType: isakmp.NoProposalChosen}},
	}
	data, err := refusal.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := NewInfoHandler(NewLife(DPDConfig{}))
	c := &daemon.Context{Now: time.Now(), SA: attached(x.SA)}
	_, r := h.Start(c, &daemon.Packet{Data: data, Remote: addrB})
	if r.Reject != nil || !r.DeleteSA {
		t.Fatalf("result %+v", r)
	}
	var nums []int
	var m46 string
	for _, m := range r.Log {
		nums = append(nums, m.Num)
		if m.Num == 46 {
			m46 = m.Text
		}
	}
	if fmt.Sprint(nums) != "[48 51 46]" || !strings.Contains(m46, "Phase-1 [initiator]") || !strings.Contains(m46, "NO-PROPOSAL-CHOSEN") {
		t.Errorf("messages %v, 46: %q", nums, m46)
	}
	if x.SA.State != StateDeleted {
		t.Errorf("state %s", x.SA.State)
	}
}
