package daemon

import (
	"net/netip"
	"testing"
	"time"
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
	if d.nEstablished != 3 {
		t.Fatalf("established %d, want 3", d.nEstablished)
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
	if d.nEstablished != 1 {
		t.Fatalf("established %d after unindex, want 1", d.nEstablished)
	}
	d.unindex(a) // twice: counted once
	if d.nEstablished != 1 {
		t.Fatalf("established %d after a second unindex, want 1", d.nEstablished)
	}
}

// TestEstablishedSA: the ACQUIRE look-up returns the oldest established
// SA of the connection that is still in the tables, and nil for a
// connection without one.
func TestEstablishedSA(t *testing.T) {
	d := &Daemon{byConn: map[string]map[netip.Addr]*peerSet{}, sas: map[Cookies]*SA{}, byInit: map[[8]byte]*SA{}}
	c := &Context{d: d}
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	mk := func(i byte, conn string, age time.Duration) *SA {
		sa := &SA{Conn: conn, Remote: netip.MustParseAddrPort("192.0.2.1:500"), Created: t0.Add(-age)}
		sa.Cookies.I[0], sa.Cookies.R[0] = i, i
		d.sas[sa.Cookies] = sa
		d.index(sa)
		return sa
	}
	mk(1, "x", time.Minute)
	old := mk(2, "x", time.Hour)
	mk(3, "x", time.Second)
	other := mk(4, "y", 2*time.Hour)
	if got := c.EstablishedSA("x"); got != old {
		t.Fatalf("EstablishedSA(x) = %v, want the oldest %v", got, old)
	}
	// Out of the tables but still indexed (removeSA unindexes after the
	// tables): not returned.
	delete(d.sas, old.Cookies)
	if got := c.EstablishedSA("x"); got == old || got == nil || got.Conn != "x" {
		t.Fatalf("EstablishedSA(x) = %v after the oldest left the tables", got)
	}
	if got := c.EstablishedSA("y"); got != other {
		t.Fatalf("EstablishedSA(y) = %v", got)
	}
	if got := c.EstablishedSA("z"); got != nil {
		t.Fatalf("EstablishedSA(z) = %v, want nil", got)
	}
}
