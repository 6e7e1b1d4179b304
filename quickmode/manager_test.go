package quickmode

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"

	"github.com/iked/iked/policymgr"
)

// TestListChild: how list-sas shows a bundle: a UDP-encapsulated tunnel
// with ESP and IPComp, one with AH; SPIs as ip xfrm prints them, in and
// out with their addresses; the IPComp CPI; the selectors with protocol
// and port; the lifetimes left; bytes only where the engine counts.
func TestListChild(t *testing.T) {
	me, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	esp := &Child{Conn: "nat", MessageID: 0xabcdef01, ReqID: 3, Role: daemon.RoleInitiator, Local: me, Remote: peer, Installed: t0,
		Mode: engine.ModeTunnel, Encap: &engine.Encap{LocalPort: 4500, RemotePort: 31000}, PFS: isakmp.GroupMODP2048,
		Selector: engine.Selector{Local: netip.MustParsePrefix("10.1.0.0/16"), Remote: netip.MustParsePrefix("10.2.0.0/16"), Protocol: 6, RemotePort: 443},
		Lifetime: engine.Lifetime{HardSeconds: 3600, SoftSeconds: 3240, HardKBytes: 1000, SoftKBytes: 900},
		SAs: []ChildSA{
			{Protocol: isakmp.ProtoESP, SPIIn: 0xc0000001, SPIOut: 0x0000beef, Cipher: "rfc4106(gcm(aes))",
				Transform: policymgr.IPsecTransform{Protocol: isakmp.ProtoESP, ID: uint8(isakmp.ESPAESGCM16), KeyLength: 256}},
			{Protocol: isakmp.ProtoIPCOMP, SPIIn: 0x1234, SPIOut: 0x4321, Compression: "deflate",
				Transform: policymgr.IPsecTransform{Protocol: isakmp.ProtoIPCOMP, ID: 2}},
		}}
	ah := &Child{Conn: "ah", Role: daemon.RoleResponder, Local: me, Remote: peer, Installed: t0, Mode: engine.ModeTransport, rekeying: true,
		SAs: []ChildSA{{Protocol: isakmp.ProtoAH, SPIIn: 0x101, SPIOut: 0x202, Integrity: "hmac(sha1)", TruncBits: 96,
			Transform: policymgr.IPsecTransform{Protocol: isakmp.ProtoAH, ID: 3}}}}
	rt := NewManager(nil, nil)
	sa := &daemon.SA{}
	rt.children[sa] = []*Child{esp, ah}
	counted := engine.SARef{Protocol: engine.ProtoESP, SPI: 0xc0000001, Src: peer, Dst: me}
	rt.Traffic = func(r engine.SARef) (uint64, bool) { return 77, r == counted }

	got := rt.ListChildren(sa, t0.Add(3300*time.Second))
	if len(got) != 2 || len(rt.ListChildren(nil, t0)) != 0 {
		t.Fatalf("listed %d bundles", len(got))
	}
	c := got[0]
	if c.Conn != "nat" || c.MessageID != 0xabcdef01 || c.ReqID != 3 || c.Role != "initiator" || c.State != "installed" ||
		c.Mode != "tunnel" || c.Encap != "udp 4500:31000" || c.PFS != "2048-bit MODP group" ||
		c.LocalTS != "10.1.0.0/16[tcp]" || c.RemoteTS != "10.2.0.0/16[tcp/443]" ||
		c.LifeSeconds != 3600 || c.RekeySeconds != 3240 || c.LifeKBytes != 1000 || c.RekeyKBytes != 900 ||
		c.RekeyIn == nil || *c.RekeyIn != 0 || c.ExpiresIn == nil || *c.ExpiresIn != 300*time.Second || c.Age != 3300*time.Second {
		t.Errorf("ESP bundle: %+v", c)
	}
	want := []struct{ dir, proto, spi, src, alg string }{
		{"in", "esp", "0xc0000001", "198.51.100.7", "ESP_AES-GCM_16/256 rfc4106(gcm(aes))"},
		{"in", "comp", "0x00001234", "198.51.100.7", ""},
		{"out", "esp", "0x0000beef", "192.0.2.1", "ESP_AES-GCM_16/256 rfc4106(gcm(aes))"},
		{"out", "comp", "0x00004321", "192.0.2.1", ""},
	}
	if len(c.SAs) != len(want) {
		t.Fatalf("SAs: %+v", c.SAs)
	}
	for i, w := range want {
		s := c.SAs[i]
		if s.Direction != w.dir || s.Protocol != w.proto || s.SPI != w.spi || s.Src != w.src || s.Encryption != w.alg || s.Integrity != "" {
			t.Errorf("SA %d: %+v, want %+v", i, s, w)
		}
		if (i == 0) != (s.Bytes != nil) || (s.Bytes != nil && *s.Bytes != 77) {
			t.Errorf("SA %d bytes %v", i, s.Bytes)
		}
		if w.proto == "comp" && s.Compression != "IPCOMP_DEFLATE deflate" {
			t.Errorf("SA %d compression %q", i, s.Compression)
		}
	}
	a := got[1]
	if a.State != "rekeying" || a.Role != "responder" || a.Mode != "transport" || a.Encap != "" || a.PFS != "" ||
		a.RekeyIn != nil || a.ExpiresIn != nil || a.LocalTS != "any" || len(a.SAs) != 2 ||
		a.SAs[0].Protocol != "ah" || a.SAs[0].SPI != "0x00000101" || a.SAs[0].Integrity != "AH_SHA hmac(sha1)/96" || a.SAs[0].Encryption != "" {
		t.Errorf("AH bundle: %+v", a)
	}
}

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
