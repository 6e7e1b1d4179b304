package modecfg_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/modecfg"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
)

func init() { interop.Prefix = "mc" }

// ModeConfig is the Transaction exchange's view of this package, as the
// transaction package declares it; Store must satisfy it.
type ModeConfig interface {
	Reply(conn *policymgr.Connection, owner daemon.Cookies, identity, user string, asked []isakmp.Attribute) ([]isakmp.Attribute, error)
	Release(owner daemon.Cookies)
	Request(conn *policymgr.Connection) []isakmp.Attribute
	Apply(conn *policymgr.Connection, owner daemon.Cookies, got []isakmp.Attribute) error
}

var (
	_ ModeConfig           = (*modecfg.Store)(nil)
	_ quickmode.VirtualIPs = (*modecfg.Store)(nil)
)

// pair is a gateway's answer built by a gateway Store, for a client
// Store to apply.
func pair(t *testing.T, client *policymgr.Connection, owner daemon.Cookies, opt modecfg.Options) (*modecfg.Store, []isakmp.Attribute) {
	t.Helper()
	pool := &policymgr.Pool{Name: "rw", Prefix: netip.MustParsePrefix("10.99.0.0/24"),
		DNS: []netip.Addr{netip.MustParseAddr("198.51.100.53"), netip.MustParseAddr("2001:db8::53")}, Domain: "example.net"}
	pool.Range = policymgr.RangeOf(pool.Prefix)
	gw := &policymgr.Connection{Name: "rw", Tunnel: true, ModeConfig: &policymgr.ModeConfig{Pool: pool, PoolName: "rw"}}
	g, err := modecfg.Open(t.TempDir(), modecfg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	c, err := modecfg.Open(t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got, err := g.Reply(gw, owner, "fqdn:client.example", "alice", c.Request(client))
	if err != nil {
		t.Fatal(err)
	}
	return c, got
}

func clientConn(mc policymgr.ModeConfig) *policymgr.Connection {
	mc.Request = true
	c := &policymgr.Connection{Name: "to-gw", Tunnel: true, ModeConfig: &mc}
	c.Remote.Addr = policymgr.RangeOf(netip.MustParsePrefix("198.51.100.0/24"))
	return c
}

// TestApplyResolvConf: dns: install puts the servers and domain first in
// the file, marked, keeps the rest, and Release removes exactly its lines;
// the updown script gets them either way, but not with dns: no.
func TestApplyResolvConf(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	orig := "# local\nnameserver 192.0.2.53\noptions edns0\n"
	if err := os.WriteFile(resolv, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := clientConn(policymgr.ModeConfig{DNS: policymgr.DNSInstall, ResolvConf: resolv})
	owner := daemon.Cookies{I: [8]byte{1}, R: [8]byte{2}}
	c, got := pair(t, conn, owner, modecfg.Options{})
	if err := c.Apply(conn, owner, got); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(resolv)
	// The client asked for IPv4 DNS servers only (its remote-address is
	// IPv4): the gateway's IPv6 one does not come.
	want := "search example.net # iked: to-gw\nnameserver 198.51.100.53 # iked: to-gw\n" + orig
	if string(b) != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", b, want)
	}
	if a, ok := c.VirtualIP(owner); !ok || a.String() != "10.99.0.1" {
		t.Errorf("client's address %v %v", a, ok)
	}
	if dns, domain := c.DNS(owner); len(dns) != 1 || domain != "example.net" {
		t.Errorf("DNS for the hook %v %q", dns, domain)
	}
	c.Release(owner)
	if b, _ := os.ReadFile(resolv); string(b) != orig {
		t.Errorf("after release:\n%s", b)
	}
	if _, ok := c.VirtualIP(owner); ok {
		t.Error("address kept after release")
	}

	no := clientConn(policymgr.ModeConfig{DNS: policymgr.DNSNo})
	if err := c.Apply(no, owner, got); err != nil {
		t.Fatal(err)
	}
	if dns, _ := c.DNS(owner); dns != nil {
		t.Errorf("dns: no still reports %v", dns)
	}
}

// TestApplyNoAddress: an answer without an address is refused and
// installs nothing.
func TestApplyNoAddress(t *testing.T) {
	c, err := modecfg.Open(t.TempDir(), modecfg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := clientConn(policymgr.ModeConfig{})
	owner := daemon.Cookies{I: [8]byte{3}}
	err = c.Apply(conn, owner, []isakmp.Attribute{{Type: uint16(modecfg.InternalIP4DNS), Data: []byte{192, 0, 2, 53}}})
	if err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("no address: %v", err)
	}
	if _, ok := c.VirtualIP(owner); ok {
		t.Error("an address without Apply")
	}
}

// TestApplyInterface: in a network namespace of its own, the address
// goes on the configured interface (one end of a veth pair) as a host address and
// leaves it when the ISAKMP SA goes.
func TestApplyInterface(t *testing.T) {
	interop.RequireRoot(t, "ip")
	ns := interop.NewNamespace(t, "cl")
	ns.MustRun("ip", "link", "add", "mc0", "type", "veth", "peer", "name", "mc1")
	ns.MustRun("ip", "link", "set", "mc0", "up")
	nsh, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	conn := clientConn(policymgr.ModeConfig{Interface: "mc0"})
	owner := daemon.Cookies{I: [8]byte{4}, R: [8]byte{5}}
	c, got := pair(t, conn, owner, modecfg.Options{Netlink: h, Now: time.Now})
	if err := c.Apply(conn, owner, got); err != nil {
		t.Fatal(err)
	}
	out := ns.MustRun("ip", "-4", "addr", "show", "dev", "mc0")
	if !strings.Contains(out, "inet 10.99.0.1/32") {
		t.Errorf("address not on mc0:\n%s", out)
	}
	// A second Apply on the same SA (a SET after a REPLY) replaces it.
	if err := c.Apply(conn, owner, got); err != nil {
		t.Fatal(err)
	}
	c.Release(owner)
	if out := ns.MustRun("ip", "-4", "addr", "show", "dev", "mc0"); strings.Contains(out, "10.99.0.1") {
		t.Errorf("address still on mc0 after release:\n%s", out)
	}
	bad := clientConn(policymgr.ModeConfig{Interface: "mcnone"})
	if err := c.Apply(bad, owner, got); err == nil || !strings.Contains(err.Error(), "mcnone") {
		t.Errorf("missing interface: %v", err)
	}
}

var _ daemon.Watcher = (*modecfg.Store)(nil)
