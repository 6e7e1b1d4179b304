package quickmode

import (
	"net/netip"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
)

// TestBelongsBehindOneNAT: two transport-mode clients behind one NAT have
// the same address and differ in their NAT ports; a bundle belongs to the
// ISAKMP SA of its own port only (so it is not adopted by, listed under
// or removed with the neighbour's). Tunnels and bundles without NAT-T
// keep the address rule.
func TestBelongsBehindOneNAT(t *testing.T) {
	public := netip.MustParseAddr("198.51.100.1")
	sa := func(port uint16) *daemon.SA {
		return &daemon.SA{Conn: "l2tp", Remote: netip.AddrPortFrom(public, port)}
	}
	child := func(mode engine.Mode, encapPort uint16) *Child {
		ch := &Child{Conn: "l2tp", Remote: public, Mode: mode}
		if encapPort != 0 {
			ch.Encap = &engine.Encap{LocalPort: 4500, RemotePort: encapPort}
		}
		return ch
	}
	for _, tc := range []struct {
		name string
		ch   *Child
		sa   *daemon.SA
		want bool
	}{
		{"transport-nat-same-port", child(engine.ModeTransport, 4500), sa(4500), true},
		{"transport-nat-other-client", child(engine.ModeTransport, 4500), sa(31000), false},
		{"transport-no-nat", child(engine.ModeTransport, 0), sa(500), true},
		{"tunnel-nat-other-port", child(engine.ModeTunnel, 4500), sa(31000), true},
		{"other-connection", &Child{Conn: "x", Remote: public, Mode: engine.ModeTransport}, sa(500), false},
	} {
		if got := belongs(tc.ch, tc.sa); got != tc.want {
			t.Errorf("%s: belongs = %v, want %v", tc.name, got, tc.want)
		}
	}
}
