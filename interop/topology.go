package interop

import (
	"fmt"
	"net/netip"
	"testing"
)

// Host is one end of a topology: a namespace and its address on the link.
type Host struct {
	NS   *Namespace
	Addr netip.Addr // documentation address (RFC 5737)
	Link string     // interface name inside NS
}

// Pair is two hosts on one veth link, the topology of a direct negotiation.
type Pair struct {
	A, B Host
}

// subnet returns the id-th /30 of a /24 documentation range (64 of them), so
// that every topology of a test binary has its own addresses in logs.
func subnet(base [3]byte, id int) (first, second netip.Addr) {
	n := byte((id % 64) * 4)
	first = netip.AddrFrom4([4]byte{base[0], base[1], base[2], n + 1})
	second = netip.AddrFrom4([4]byte{base[0], base[1], base[2], n + 2})
	return first, second
}

var (
	testNet1 = [3]byte{192, 0, 2}    // RFC 5737 TEST-NET-1
	testNet2 = [3]byte{198, 51, 100} // RFC 5737 TEST-NET-2
)

// veth creates a veth pair with one end in each namespace, addresses them
// with a /30 and brings them up.
func veth(t testing.TB, a *Namespace, aName string, aAddr netip.Addr, b *Namespace, bName string, bAddr netip.Addr) {
	t.Helper()
	// Created directly inside the namespaces: the names never exist in the
	// root namespace, so they cannot collide with another test's.
	a.MustRun("ip", "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.MustRun("ip", "addr", "add", aAddr.String()+"/30", "dev", aName)
	b.MustRun("ip", "addr", "add", bAddr.String()+"/30", "dev", bName)
	a.MustRun("ip", "link", "set", aName, "up")
	b.MustRun("ip", "link", "set", bName, "up")
}

// NewPair creates two namespaces joined by a veth link with addresses from
// 192.0.2.0/24: A gets the first address of the pair's /30, B the second.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	a := NewNamespace(t, "a")
	b := NewNamespace(t, "b")
	ipA, ipB := subnet(testNet1, nextID())
	veth(t, a, Prefix+"a0", ipA, b, Prefix+"b0", ipB)
	return &Pair{
		A: Host{NS: a, Addr: ipA, Link: Prefix + "a0"},
		B: Host{NS: b, Addr: ipB, Link: Prefix + "b0"},
	}
}

// RoutedOptions shapes the router of NewRouted.
type RoutedOptions struct {
	// NAT masquerades Left's packets behind the router's Right-side address,
	// a real source NAT (nftables), so NAT-T detection and port 4500 floating
	// are exercised.
	NAT bool
	// DropPercent drops this share (0-100) of the UDP 500/4500 packets the
	// router forwards, in both directions, chosen at random per packet.
	DropPercent int
	// DropIPFragments drops every IPv4 fragment the router receives
	// (a packet with the more-fragments flag or a fragment offset), before
	// the kernel's defragmentation: a path that loses any datagram larger
	// than the links' MTU, as many firewalls and NATs do.
	DropIPFragments bool
}

// Routed is Left -- Router -- Right: Left in 192.0.2.0/24, Right in
// 198.51.100.0/24, each with a default route through the router.
type Routed struct {
	Left, Right Host
	Router      *Namespace
	// RouterLeft and RouterRight are the router's addresses on each link;
	// with NAT, Right sees Left's packets come from RouterRight.
	RouterLeft, RouterRight netip.Addr
}

// NewRouted creates the three namespaces, the two links and the router's
// forwarding, NAT and drop rules.
func NewRouted(t testing.TB, opt RoutedOptions) *Routed {
	t.Helper()
	if opt.DropPercent < 0 || opt.DropPercent > 100 {
		t.Fatalf("interop: DropPercent %d out of 0-100", opt.DropPercent)
	}
	left := NewNamespace(t, "l")
	router := NewNamespace(t, "r")
	right := NewNamespace(t, "s")
	id := nextID()
	rl, l := subnet(testNet1, id)
	rr, r := subnet(testNet2, id)
	veth(t, router, Prefix+"rl", rl, left, Prefix+"l0", l)
	veth(t, router, Prefix+"rr", rr, right, Prefix+"s0", r)
	left.MustRun("ip", "route", "add", "default", "via", rl.String())
	right.MustRun("ip", "route", "add", "default", "via", rr.String())
	router.MustRun("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	if err := routerRules(router, Prefix+"rr", opt); err != nil {
		t.Fatalf("interop: %v", err)
	}
	return &Routed{
		Left:        Host{NS: left, Addr: l, Link: Prefix + "l0"},
		Right:       Host{NS: right, Addr: r, Link: Prefix + "s0"},
		Router:      router,
		RouterLeft:  rl,
		RouterRight: rr,
	}
}

// String names the hosts for test logs.
func (h Host) String() string { return fmt.Sprintf("%s(%s)", h.NS.Name, h.Addr) }

// AddAddr adds an address (e.g. "198.51.100.1/32", an address inside a
// traffic selector) to the host's loopback, so that tunnelled traffic has a
// source and libipsec can route it.
func (h Host) AddAddr(t testing.TB, prefix string) {
	t.Helper()
	h.NS.MustRun("ip", "addr", "add", prefix, "dev", "lo")
}
