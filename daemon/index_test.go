package daemon

import (
	"net/netip"
	"testing"
)

// TestEstablishedIndex: EachEstablished finds the established SAs of a
// connection, EachEstablishedWith those of one peer address too; an SA
// whose connection or peer changed is found under the new ones
// (reindex), and a removed one nowhere.
func TestEstablishedIndex(t *testing.T) {
	d := &Daemon{byConn: map[string]map[netip.Addr]*peerSet{}}
	c := &Context{d: d}
	peer := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	a := &SA{Conn: "x", Remote: peer("192.0.2.1:500")}
	b := &SA{Conn: "x", Remote: peer("192.0.2.2:4500")}
	o := &SA{Conn: "y", Remote: peer("192.0.2.1:500")}
	for _, sa := range []*SA{a, b, o} {
		d.index(sa)
	}
	count := func(conn string, addr string) int {
		n := 0
		f := func(*SA) bool { n++; return true }
		if addr == "" {
			c.EachEstablished(conn, f)
		} else {
			c.EachEstablishedWith(conn, netip.MustParseAddr(addr), f)
		}
		return n
	}
	if n := count("x", ""); n != 2 {
		t.Fatalf("x: %d SAs, want 2", n)
	}
	if n := count("x", "192.0.2.1"); n != 1 {
		t.Fatalf("x with 192.0.2.1: %d SAs, want 1", n)
	}
	// The peer floated (NAT-T) and a reload renamed the connection.
	a.Remote, a.Conn = peer("192.0.2.3:4500"), "z"
	d.reindex(a)
	if count("x", "192.0.2.1") != 0 || count("z", "192.0.2.3") != 1 || count("x", "") != 1 {
		t.Fatalf("after reindex: x %d, z at 192.0.2.3 %d", count("x", ""), count("z", "192.0.2.3"))
	}
	// Stopping early.
	n := 0
	d.index(&SA{Conn: "y", Remote: peer("192.0.2.9:500")})
	c.EachEstablished("y", func(*SA) bool { n++; return false })
	if n != 1 {
		t.Fatalf("visited %d after false", n)
	}
	for _, sa := range []*SA{a, b, o} {
		d.unindex(sa)
	}
	if count("x", "") != 0 || count("z", "") != 0 || count("y", "") != 1 || len(d.byConn) != 1 {
		t.Fatalf("after unindex: %v", d.byConn)
	}
}
