package modecfg

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// gateway returns a gateway connection with a pool of range r.
func gateway(t *testing.T, r string) *policymgr.Connection {
	t.Helper()
	p := testPool(r)
	return &policymgr.Connection{Name: "roadwarriors", Tunnel: true, ModeConfig: &policymgr.ModeConfig{Pool: p, PoolName: p.Name}}
}

// testPool is pool "rw" of range r (a prefix, or "a b").
func testPool(r string) *policymgr.Pool {
	p := &policymgr.Pool{Name: "rw", DNS: []netip.Addr{netip.MustParseAddr("198.51.100.53")}, Domain: "example.net",
		SplitInclude: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, Banner: "Authorised use only"}
	if pfx, err := netip.ParsePrefix(r); err == nil {
		p.Prefix, p.Range = pfx, policymgr.RangeOf(pfx)
	} else {
		var a, b string
		fmt.Sscanf(r, "%s %s", &a, &b)
		p.Range = policymgr.Range{From: netip.MustParseAddr(a), To: netip.MustParseAddr(b)}
	}
	return p
}

func cookies(n int) daemon.Cookies {
	var c daemon.Cookies
	c.I[0], c.I[1], c.R[0] = byte(n>>8), byte(n), 1
	return c
}

func open(t *testing.T, dir string, now *time.Time) *Store {
	t.Helper()
	s, err := Open(dir, Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addressOf is the address a REPLY carries.
func addressOf(t *testing.T, attrs []isakmp.Attribute) netip.Addr {
	t.Helper()
	c, err := Parse(attrs)
	if err != nil || !c.Address.IsValid() {
		t.Fatalf("reply %v: %v", attrs, err)
	}
	return c.Address
}

func lease(t *testing.T, s *Store, conn *policymgr.Connection, owner int, identity, user string) netip.Addr {
	t.Helper()
	attrs, err := s.Reply(conn, cookies(owner), identity, user, nil)
	if err != nil {
		t.Fatalf("lease for %s/%s: %v", identity, user, err)
	}
	a := addressOf(t, attrs)
	if v, ok := s.VirtualIP(cookies(owner)); !ok || v != a {
		t.Fatalf("VirtualIP %v %v, want %v", v, ok, a)
	}
	return a
}

// TestLeaseSameIdentity: the first peer gets the first address (not the
// network address), the same identity and user get their address back
// after Release, another user of the same identity another one, and a
// second ISAKMP SA of the same key shares the address.
func TestLeaseSameIdentity(t *testing.T) {
	now := testNow()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	gw := gateway(t, "10.99.0.0/24")
	a := lease(t, s, gw, 1, "fqdn:alice.example", "alice")
	if a.String() != "10.99.0.1" {
		t.Errorf("first lease %s", a)
	}
	if b := lease(t, s, gw, 2, "fqdn:alice.example", "bob"); b.String() != "10.99.0.2" {
		t.Errorf("another user: %s", b)
	}
	if c := lease(t, s, gw, 3, "fqdn:alice.example", "alice"); c != a {
		t.Errorf("second SA of alice: %s, want the shared %s", c, a)
	}
	// A repeated request of the same SA answers the same.
	if c := lease(t, s, gw, 1, "fqdn:alice.example", "alice"); c != a {
		t.Errorf("repeated: %s", c)
	}
	s.Release(cookies(1))
	s.Release(cookies(3))
	if _, ok := s.VirtualIP(cookies(1)); ok {
		t.Error("released SA still has an address")
	}
	now = now.Add(time.Hour)
	if d := lease(t, s, gw, 4, "fqdn:carol.example", ""); d.String() != "10.99.0.3" {
		t.Errorf("carol took %s, not a never-used address", d)
	}
	if again := lease(t, s, gw, 5, "fqdn:alice.example", "alice"); again != a {
		t.Errorf("alice came back to %s, want %s", again, a)
	}
}

// TestLeasesAcrossRestart: with a real bbolt file, closed and opened
// again (a restart), the identity gets its address back and ikectl's
// list shows it released, then online.
func TestLeasesAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	now := testNow()
	gw := gateway(t, "10.99.0.0/24")
	s := open(t, dir, &now)
	lease(t, s, gw, 1, "fqdn:a.example", "")
	b := lease(t, s, gw, 2, "fqdn:b.example", "bob")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lease file: %v %v", fi, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v %v", fi, err)
	}
	now = now.Add(time.Minute)
	s = open(t, dir, &now)
	defer s.Close()
	ls, err := s.ListLeases()
	if err != nil || len(ls) != 2 || ls[1].Address != b.String() || ls[1].Online || !ls[1].Released.Equal(now) || ls[1].User != "bob" {
		t.Fatalf("leases after restart: %+v %v", ls, err)
	}
	if got := lease(t, s, gw, 9, "fqdn:b.example", "bob"); got != b {
		t.Errorf("after restart b got %s, want %s", got, b)
	}
	if ls, _ := s.ListLeases(); !ls[1].Online || !ls[1].Released.IsZero() {
		t.Errorf("not online: %+v", ls[1])
	}
	// A second daemon cannot open the file while this one holds it.
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("a second Open of a held file succeeded")
	}
}

// TestPoolFull: a pool whose addresses are all held gives ErrPoolFull;
// once one is released, the released one longest ago goes to a newcomer
// when no address was never used.
func TestPoolFull(t *testing.T) {
	now := testNow()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	gw := gateway(t, "10.98.0.10 10.98.0.12")
	for i := range 3 {
		lease(t, s, gw, i, fmt.Sprintf("fqdn:%d.example", i), "")
	}
	_, err := s.Reply(gw, cookies(7), "fqdn:late.example", "", nil)
	if !errors.Is(err, ErrPoolFull) || err.Error() != `address pool full: pool "rw" has no free address (3 leased)` {
		t.Fatalf("full pool: %v", err)
	}
	s.Release(cookies(2))
	now = now.Add(time.Second)
	s.Release(cookies(0))
	if a := lease(t, s, gw, 7, "fqdn:late.example", ""); a.String() != "10.98.0.12" {
		t.Errorf("late got %s, want the one released first, 10.98.0.12", a)
	}
	// 2 lost its address to the newcomer: it gets 0's old one, the last free.
	if a := lease(t, s, gw, 8, "fqdn:2.example", ""); a.String() != "10.98.0.10" {
		t.Errorf("2 came back to %s", a)
	}
}

// TestReloadKeepsFittingLeases: a pool that shrinks keeps the leases
// within the new range; a released lease outside it is forgotten, a held
// one stays until its SA goes and is forgotten then.
func TestReloadKeepsFittingLeases(t *testing.T) {
	now := testNow()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	gw := gateway(t, "10.99.0.0/24")
	for i := 1; i <= 4; i++ {
		lease(t, s, gw, i, fmt.Sprintf("fqdn:%d.example", i), "") // .1 to .4
	}
	s.Release(cookies(3)) // .3 released
	small := gateway(t, "10.99.0.1 10.99.0.2")
	n, err := s.Reload(&policymgr.Policy{Pools: map[string]*policymgr.Pool{"rw": small.ModeConfig.Pool}})
	if err != nil || n != 1 {
		t.Fatalf("reload dropped %d: %v", n, err)
	}
	ls, _ := s.ListLeases()
	if len(ls) != 3 {
		t.Fatalf("after reload %+v", ls)
	}
	s.Release(cookies(4)) // .4 is outside: forgotten
	s.Release(cookies(1)) // .1 fits: kept
	ls, _ = s.ListLeases()
	if len(ls) != 2 || ls[0].Address != "10.99.0.1" || ls[1].Address != "10.99.0.2" {
		t.Errorf("after release %+v", ls)
	}
	if a := lease(t, s, small, 9, "fqdn:1.example", ""); a.String() != "10.99.0.1" {
		t.Errorf("1 came back to %s", a)
	}
	// 4's address is gone from the pool: it gets none of the old.
	if _, err := s.Reply(small, cookies(10), "fqdn:4.example", "", nil); !errors.Is(err, ErrPoolFull) {
		t.Errorf("4 in a full small pool: %v", err)
	}
}

// TestLeaseConcurrent: many goroutines leasing and releasing at once
// never give one address to two keys.
func TestLeaseConcurrent(t *testing.T) {
	now := testNow()
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gw := gateway(t, "10.99.0.0/24")
	var mu sync.Mutex
	holder := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("fqdn:%d-%d.example", g, i%5)
				owner := cookies(g*100 + i)
				attrs, err := s.Reply(gw, owner, id, "", nil)
				if err != nil {
					t.Error(err)
					return
				}
				c, _ := Parse(attrs)
				mu.Lock()
				if h, ok := holder[c.Address]; ok && h != id {
					t.Errorf("%s given to %s and %s", c.Address, h, id)
				}
				holder[c.Address] = id
				mu.Unlock()
				if i%2 == 1 {
					mu.Lock()
					delete(holder, c.Address)
					s.Release(owner)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// TestReplyWithoutPool: a connection without a pool is an error, not a
// lease.
func TestReplyWithoutPool(t *testing.T) {
	now := time.Now()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	if _, err := s.Reply(&policymgr.Connection{Name: "x"}, cookies(1), "a", "", nil); !errors.Is(err, ErrNoModeConfig) {
		t.Errorf("no pool: %v", err)
	}
	if err := s.Apply(&policymgr.Connection{Name: "x"}, cookies(1), nil); !errors.Is(err, ErrNoModeConfig) {
		t.Errorf("no request: %v", err)
	}
}

func testNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// TestSARemovedReleases: as a daemon.Watcher the store releases the
// lease of an ISAKMP SA that leaves the daemon's table.
func TestSARemovedReleases(t *testing.T) {
	now := testNow()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	gw := gateway(t, "10.99.0.0/24")
	lease(t, s, gw, 1, "fqdn:a.example", "")
	s.SARemoved(&daemon.Context{SA: &daemon.SA{Cookies: cookies(1)}}, 0)
	if _, ok := s.VirtualIP(cookies(1)); ok {
		t.Error("lease kept after SARemoved")
	}
	if ls, _ := s.ListLeases(); len(ls) != 1 || ls[0].Online {
		t.Errorf("after SARemoved %+v", ls)
	}
}
