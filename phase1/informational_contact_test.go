package phase1

import (
	"net/netip"
	"testing"

	"github.com/iked/iked/isakmp"
)

// TestStaleSAs: INITIAL-CONTACT on a new SA makes the peer's other
// established SAs stale, never the new one, another peer's, or a
// half-open one.
func TestStaleSAs(t *testing.T) {
	mk := func(id string, st State) *SA { return &SA{RemoteIDText: id, State: st} }
	cur := mk("gw.example.com", StateEstablished)
	old1 := mk("gw.example.com", StateEstablished)
	old2 := mk("gw.example.com", StateEstablished)
	half := mk("gw.example.com", StateMMRSentKE)
	other := mk("198.51.100.7", StateEstablished)
	got := StaleSAs(cur, []*SA{cur, old1, half, other, old2})
	if len(got) != 2 || got[0] != old1 || got[1] != old2 {
		t.Errorf("stale: %v", got)
	}
	if len(StaleSAs(mk("", StateEstablished), []*SA{mk("", StateEstablished)})) != 0 {
		t.Error("SAs without identity matched each other")
	}
	// Behind one NAT: the same identity at another port is another peer.
	nat := netip.MustParseAddrPort("198.51.100.1:14500")
	me := &SA{RemoteIDText: "client.example", State: StateEstablished, Remote: nat}
	neighbour := &SA{RemoteIDText: "client.example", State: StateEstablished, Remote: netip.AddrPortFrom(nat.Addr(), 24500)}
	mine := &SA{RemoteIDText: "client.example", State: StateEstablished, Remote: nat}
	if got := StaleSAs(me, []*SA{neighbour, mine}); len(got) != 1 || got[0] != mine {
		t.Errorf("behind one NAT, stale: %v, want only the SA at the same port", got)
	}
}

// TestInitialContactWire: our INITIAL-CONTACT equals the one strongSwan
// put in its MM5 in run g (Main Mode PSK), decrypted
// with the Ka and IV charon logged: same protocol, cookies as SPI, no data.
func TestInitialContactWire(t *testing.T) {
	k, files := strongSwanInfoKeys(t)
	keys := runKeys(t, runG, "initiator")
	m, err := isakmp.Decode(readCapture(t, files[4]))
	if err != nil {
		t.Fatal(err)
	}
	// MM5's IV is the initial IV charon logged (RFC 2409, App. B).
	if _, err := open(m, k.Cipher, keys.IKE[0].IV); err != nil {
		t.Fatal(err)
	}
	var theirs *isakmp.Notification
	for _, p := range m.Payloads {
		if n, ok := p.(*isakmp.Notification); ok {
			theirs = n
		}
	}
	if theirs == nil || theirs.NotifyType != isakmp.InitialContact {
		t.Fatalf("MM5 payloads %v", m.Payloads)
	}
	a, _ := isakmp.EncodeChain([]isakmp.Payload{k.InitialContact()})
	b, _ := isakmp.EncodeChain([]isakmp.Payload{&isakmp.Notification{DOI: theirs.DOI, Protocol: theirs.Protocol,
		SPI: theirs.SPI, NotifyType: theirs.NotifyType, Data: theirs.Data}})
	if string(a) != string(b) {
		t.Errorf("ours %x, strongSwan's %x", a, b)
	}
}
