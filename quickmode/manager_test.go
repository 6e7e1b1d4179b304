package quickmode

import (
	"net/netip"
	"slices"
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
	rt.setChildren(sa, []*Child{esp, ah})
	counted := engine.SARef{Protocol: engine.ProtoESP, SPI: 0xc0000001, Src: peer, Dst: me}
	began := 0
	rt.Traffic = func(n int) func(engine.SARef) (uint64, bool) {
		began++
		if n != 1 {
			t.Errorf("BeginList(1) began the counters for %d ISAKMP SAs", n)
		}
		return func(r engine.SARef) (uint64, bool) { return 77, r == counted }
	}

	list := rt.BeginList(1)
	got := list(sa, t0.Add(3300*time.Second))
	if len(got) != 2 || len(list(nil, t0)) != 0 || began != 1 {
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

	// Counting (a metrics scrape): the same connections and states, in
	// the same order, and no look-up of a byte counter.
	rt.Traffic = func(int) func(engine.SARef) (uint64, bool) {
		t.Error("CountChildren asked for the byte counters")
		return nil
	}
	var seen []string
	rt.CountChildren(sa, func(conn, state string) { seen = append(seen, conn+" "+state) })
	if !slices.Equal(seen, []string{"nat installed", "ah rekeying"}) {
		t.Errorf("CountChildren(sa): %q", seen)
	}
	rt.addDetached([]*Child{{Conn: "gone", Local: me, Remote: peer}})
	seen = nil
	rt.CountChildren(nil, func(conn, state string) { seen = append(seen, conn+" "+state) })
	if !slices.Equal(seen, []string{"gone installed"}) || len(list(nil, t0)) != 1 {
		t.Errorf("CountChildren(nil): %q", seen)
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
	rt.setChildren(sa, []*Child{x})
	rt.addDetached([]*Child{y})
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
	if len(rt.children[sa]) != 0 || len(rt.detached) != 0 || len(rt.byPeer) != 0 || x.kept || y.kept {
		t.Errorf("drop left %v %v, index %v", rt.children[sa], rt.detached, rt.byPeer)
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
	rt.setChildren(sa, []*Child{old})
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
		rt.setChildren(sa, append(rt.children[sa], ch))
	}
	if rt.replaced(old) {
		t.Error("replaced by a bundle that is not its successor")
	}
	rt.setChildren(sa, append(rt.children[sa], &Child{Conn: "c", Local: me, Remote: peer, Selector: sel, Installed: t0.Add(time.Second)}))
	if !rt.replaced(old) {
		t.Error("not replaced by its successor")
	}
}

// TestPeerIndex: the index of the bundles kept by connection and peer
// (table.go, byPeer) follows every way a bundle is kept or forgotten: on
// an ISAKMP SA, detached when the peer deletes that SA, adopted by the
// peer's next one, dropped, pruned when expired, deleted with its SA.
func TestPeerIndex(t *testing.T) {
	rt := NewManager(nil, nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	me, p1, p2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	newSA := func(conn string, peer netip.Addr, at time.Time) *daemon.SA {
		return &daemon.SA{Conn: conn, Remote: netip.AddrPortFrom(peer, 500), Established: true, Created: at}
	}
	check := func(step string) {
		t.Helper()
		want := map[peerKey][]*Child{}
		for sa, list := range rt.children {
			for _, ch := range list {
				if !ch.kept || ch.owner != sa {
					t.Errorf("%s: bundle %s on %p: kept %v, owner %p", step, ch.Conn, sa, ch.kept, ch.owner)
				}
				want[keyOf(ch)] = append(want[keyOf(ch)], ch)
			}
		}
		for _, ch := range rt.detached {
			if !ch.kept || ch.owner != nil {
				t.Errorf("%s: detached bundle %s: kept %v, owner %p", step, ch.Conn, ch.kept, ch.owner)
			}
			want[keyOf(ch)] = append(want[keyOf(ch)], ch)
		}
		if len(want) != len(rt.byPeer) {
			t.Errorf("%s: index has %d keys, the tables %d", step, len(rt.byPeer), len(want))
		}
		spis := 0
		for _, list := range want {
			for _, ch := range list {
				for _, spi := range ch.spis() {
					spis++
					if !slices.Contains(rt.bySPI[spi], ch) {
						t.Errorf("%s: bundle %s missing under SPI %#x", step, ch.Conn, spi)
					}
				}
			}
		}
		n := 0
		for _, list := range rt.bySPI {
			n += len(list)
		}
		if n != spis {
			t.Errorf("%s: SPI index holds %d entries, the tables %d", step, n, spis)
		}
		for k, list := range want {
			if got := rt.byPeer[k]; len(got) != len(list) {
				t.Errorf("%s: %v: index has %d bundles, the tables %d", step, k, len(got), len(list))
			}
			for _, ch := range list {
				if !slices.Contains(rt.byPeer[k], ch) {
					t.Errorf("%s: %v: bundle missing from the index", step, k)
				}
			}
		}
	}
	sa1, other := newSA("c", p1, t0), newSA("d", p2, t0)
	esp := func(in, out uint32) []ChildSA { return []ChildSA{{Protocol: isakmp.ProtoESP, SPIIn: in, SPIOut: out}} }
	a := &Child{Conn: "c", Local: me, Remote: p1, Installed: t0, SAs: esp(0x100, 0x200)}
	b := &Child{Conn: "c", Local: me, Remote: p1, Installed: t0.Add(time.Second), Expires: t0.Add(time.Hour), SAs: esp(0x101, 0x201)}
	d := &Child{Conn: "d", Local: me, Remote: p2, Installed: t0, SAs: esp(0x102, 0x202)}
	rt.addChild(sa1, a, t0)
	rt.addChild(sa1, b, t0)
	rt.addChild(other, d, t0)
	check("installed")
	if !rt.up("c", p1) || !rt.up("d", p2) || rt.up("c", p2) || !rt.known(a) {
		t.Fatal("up or known wrong after installing")
	}

	rt.SARemoved(&daemon.Context{SA: sa1}, daemon.RemovePeerDeleted) // no other SA: detached
	check("detached")
	if len(rt.detached) != 2 || !rt.up("c", p1) {
		t.Fatalf("detached %d, up %v", len(rt.detached), rt.up("c", p1))
	}

	sa2 := newSA("c", p1, t0.Add(time.Minute))
	rt.SAEstablished(&daemon.Context{SA: sa2}) // adopts them
	check("adopted")
	if len(rt.children[sa2]) != 2 || len(rt.detached) != 0 || a.owner != sa2 {
		t.Fatalf("adopted %d, detached %d", len(rt.children[sa2]), len(rt.detached))
	}

	rt.drop(a)
	check("dropped")
	if rt.known(a) || !rt.up("c", p1) {
		t.Fatal("dropped bundle still known, or its peer's other one not")
	}
	rt.drop(a) // twice: nothing
	check("dropped twice")

	c := &Child{Conn: "c", Local: me, Remote: p1, Installed: t0.Add(2 * time.Hour), SAs: esp(0x103, 0x203)}
	rt.addChild(sa2, c, t0.Add(2*time.Hour)) // b expired: pruned
	check("pruned")
	if rt.known(b) || !rt.known(c) {
		t.Fatal("expired bundle still known")
	}
	in := func(spi uint32) engine.SARef { return engine.SARef{Protocol: engine.ProtoESP, SPI: spi, Dst: me} }
	if rt.find(in(0x101)) != nil || rt.find(in(0x103)) != c || rt.find(in(0x102)) != d {
		t.Fatal("find by SPI wrong after pruning")
	}

	x := &Child{Conn: "c", Local: me, Remote: p1, Installed: t0, SAs: esp(0x104, 0x204)} // an earlier SA's, detached
	rt.addDetached([]*Child{x})
	check("detached again")
	deleter{rt}.Delete(&daemon.Context{SA: sa2}) // terminate: x goes too
	check("deleted")
	if rt.up("c", p1) || rt.known(c) || rt.known(x) || !rt.up("d", p2) {
		t.Fatal("bundles of a deleted SA still up")
	}

	for i := range maxDetached + 3 { // the oldest detached are forgotten
		rt.addDetached([]*Child{{Conn: "e", Local: me, Remote: p2, MessageID: uint32(i), SAs: esp(uint32(0x1000+i), 0x300)}})
	}
	check("detached beyond the bound")
	if n := len(rt.byPeer[peerKey{"e", p2}]); n != maxDetached {
		t.Fatalf("index holds %d detached, want %d", n, maxDetached)
	}
	if rt.find(in(0x1000)) != nil || rt.find(in(0x1003)) == nil || len(rt.bySPI[0x300]) != maxDetached {
		t.Fatal("find by SPI wrong for the detached")
	}
}
