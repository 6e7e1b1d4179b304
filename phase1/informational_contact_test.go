package phase1

import (
	"net/netip"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
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
	if _, err := open(m, k.Cipher.Block(), keys.IKE[0].IV); err != nil {
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

// TestInitialContactOnlyOnFirstContact: the initiator adds INITIAL-CONTACT
// to its authenticating message only when it has no established SA of the
// same connection and peer identity; a responder never does.
func TestInitialContactOnlyOnFirstContact(t *testing.T) {
	conn := &policymgr.Connection{Name: "c"}
	other := &policymgr.Connection{Name: "d"}
	mk := func(c *policymgr.Connection, id string, st State) *SA {
		return &SA{Conn: c, RemoteIDText: id, State: st, Role: daemon.RoleInitiator}
	}
	cur := mk(conn, "", StateMMISentAuth)
	cases := []struct {
		name   string
		others []*SA
		want   bool
	}{
		{"none", nil, false},
		{"same connection established", []*SA{mk(conn, "192.0.2.2", StateEstablished)}, true},
		{"same connection half-open", []*SA{mk(conn, "", StateMMISentKE)}, false},
		{"other connection", []*SA{mk(other, "192.0.2.2", StateEstablished)}, false},
		{"itself", []*SA{cur}, false},
	}
	for _, c := range cases {
		if got := HasContact(cur, c.others); got != c.want {
			t.Errorf("%s: HasContact %v, want %v", c.name, got, c.want)
		}
		x := &Exchange{SA: cur, contact: func(s *SA) bool { return HasContact(s, c.others) }}
		if n := x.initialContact(); (n != nil) == c.want {
			t.Errorf("%s: INITIAL-CONTACT sent=%v with contact=%v", c.name, n != nil, c.want)
		} else if n != nil && (n.NotifyType != isakmp.InitialContact || n.Protocol != isakmp.ProtoISAKMP || len(n.SPI) != 16) {
			t.Errorf("%s: notify %+v", c.name, n)
		}
	}
	resp := &Exchange{SA: &SA{Role: daemon.RoleResponder}, contact: func(*SA) bool { return false }}
	if resp.initialContact() != nil {
		t.Error("a responder sent INITIAL-CONTACT")
	}
	if (&Exchange{SA: cur}).initialContact() != nil {
		t.Error("INITIAL-CONTACT without the daemon's tables")
	}
	// A different identity on the same connection is another peer.
	s := mk(conn, "198.51.100.9", StateMMISentAuth)
	if HasContact(s, []*SA{mk(conn, "192.0.2.2", StateEstablished)}) {
		t.Error("another identity counted as contact")
	}
}
