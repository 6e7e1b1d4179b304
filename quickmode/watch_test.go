package quickmode

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

// TestFindByDirection: our inbound SPIs and the peers' outbound SPIs are
// drawn by different hosts and may be equal; an EXPIRE names the SA by
// SPI, protocol and destination, and find picks the bundle that holds it
// in that direction.
func TestFindByDirection(t *testing.T) {
	me := netip.MustParseAddr("192.0.2.1")
	p1, p2 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	x := &Child{Conn: "x", Local: me, Remote: p1, SAs: []ChildSA{{Protocol: isakmp.ProtoESP, SPIIn: 0x1000, SPIOut: 0x2000}}}
	y := &Child{Conn: "y", Local: me, Remote: p2, SAs: []ChildSA{{Protocol: isakmp.ProtoESP, SPIIn: 0x2000, SPIOut: 0x3000}}}
	rt := NewManager(nil, nil)
	sa := &daemon.SA{}
	rt.children[sa] = []*Child{x}
	rt.detached = []*Child{y}
	for _, tc := range []struct {
		ref  engine.SARef
		want *Child
	}{
		{engine.SARef{Protocol: engine.ProtoESP, SPI: 0x2000, Src: p2, Dst: me}, y}, // y's inbound (SPI, protocol and destination name it)
		{engine.SARef{Protocol: engine.ProtoESP, SPI: 0x2000, Src: me, Dst: p1}, x}, // x's outbound
		{engine.SARef{Protocol: engine.ProtoESP, SPI: 0x1000, Dst: me}, x},
		{engine.SARef{Protocol: engine.ProtoAH, SPI: 0x1000, Dst: me}, nil},
		{engine.SARef{Protocol: engine.ProtoESP, SPI: 0x3000, Dst: p2}, y},
		{engine.SARef{Protocol: engine.ProtoESP, SPI: 0x3000, Dst: p1}, nil},
	} {
		if got := rt.find(tc.ref); got != tc.want {
			t.Errorf("find(%s) = %v, want %v", tc.ref, got, tc.want)
		}
	}
	rt.drop(x)
	rt.drop(y)
	if len(rt.children[sa]) != 0 || len(rt.detached) != 0 {
		t.Errorf("drop left %v %v", rt.children[sa], rt.detached)
	}
}

// TestReplaced: a responder's bundle counts as rekeyed by the peer only
// when a newer bundle of the same connection, peer and traffic exists.
func TestReplaced(t *testing.T) {
	me, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	old := &Child{Conn: "c", Role: daemon.RoleResponder, Local: me, Remote: peer, Selector: sel, Installed: t0}
	rt := NewManager(nil, nil)
	sa := &daemon.SA{}
	rt.children[sa] = []*Child{old}
	if rt.replaced(old) {
		t.Error("replaced with no other bundle")
	}
	other := sel
	other.Protocol = 6
	for _, ch := range []*Child{
		{Conn: "c", Local: me, Remote: peer, Selector: other, Installed: t0.Add(time.Second)},                           // other traffic
		{Conn: "d", Local: me, Remote: peer, Selector: sel, Installed: t0.Add(time.Second)},                             // other connection
		{Conn: "c", Local: me, Remote: netip.MustParseAddr("192.0.2.9"), Selector: sel, Installed: t0.Add(time.Second)}, // other peer
		{Conn: "c", Local: me, Remote: peer, Selector: sel, Installed: t0.Add(-time.Second)},                            // older
	} {
		rt.children[sa] = append(rt.children[sa], ch)
	}
	if rt.replaced(old) {
		t.Error("replaced by a bundle that is not its successor")
	}
	rt.children[sa] = append(rt.children[sa], &Child{Conn: "c", Local: me, Remote: peer, Selector: sel, Installed: t0.Add(time.Second)})
	if !rt.replaced(old) {
		t.Error("not replaced by its successor")
	}
}
