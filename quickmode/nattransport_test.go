package quickmode_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/stack/stacktest"
)

// l2tpYAML is the policy of an L2TP/IPsec host in transport mode with
// NAT-T: the gateway answers any peer for its UDP port 1701; a client
// (remote set) initiates from its own UDP port.
func l2tpYAML(local, remote string, port int) func(sock string) string {
	return func(sock string) string {
		conn := "    local-port: 1701\n    initiate: never\n"
		if remote != "" {
			conn = fmt.Sprintf("    remote-address: %s\n    local-port: %d\n    remote-port: 1701\n    initiate: start\n", remote, port)
		}
		return fmt.Sprintf(`daemon:
  listen: [%[1]q]
  natt-port: 4500
  engine: none
  control-socket: %[2]s
  retransmit: {timeout: 500ms, tries: 3}
  log: {level: debug, format: json}
`+stacktest.Transforms+`connections:
  l2tp:
    local-address: %[1]s
    protocol: udp
%[3]s    ike: {mode: main, transforms: [ike], auth: psk, psk: "l2tp group key"}
    proposal-list: qm
`, local, sock, conn)
	}
}

// bundleSelectors are the selectors and encapsulations of the bundles
// an engine holds (one per bundle: its outbound SA's).
func bundleSelectors(e *memory.Backend) map[engine.Selector]engine.Encap {
	out := map[engine.Selector]engine.Encap{}
	for _, r := range e.SAs() {
		if !r.Inbound && r.Encap != nil {
			out[r.Selector] = *r.Encap
		}
	}
	return out
}

// TestTransportNATSelectors: two L2TP/IPsec clients behind one NAT
// negotiate UDP-encapsulated transport mode with the gateway for their
// L2TP ports (1701 and 1702) and their private addresses in the IDs and
// NAT-OA. The gateway's SAs and policies must name the address their
// packets come from, the NAT's public one, with each client's port, and
// carry the client's private address as its original address; the
// clients keep their own view (their private address, the gateway's).
func TestTransportNATSelectors(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		gwAddr, public := netip.MustParseAddr(stacktest.HostB), netip.MustParseAddr("198.51.100.1")
		clients := []struct {
			addr netip.Addr
			port uint16
		}{{netip.MustParseAddr("10.1.0.2"), 1701}, {netip.MustParseAddr("10.1.0.3"), 1702}}
		gw := stacktest.StartYAML(t, l2tpYAML(gwAddr.String(), "", 0), stacktest.Options{Net: nw})
		var nodes []*stacktest.Node
		for _, c := range clients {
			nw.NAT(c.addr, public)
			nodes = append(nodes, stacktest.StartYAML(t, l2tpYAML(c.addr.String(), gwAddr.String(), int(c.port)), stacktest.Options{Net: nw}))
		}
		stacktest.Wait(t, 20*time.Second, "both clients' SAs at the gateway", func() bool { return len(gw.Engine.SAs()) == 4 },
			append([]*stacktest.Node{gw}, nodes...)...)
		got := bundleSelectors(gw.Engine)
		for i, c := range clients {
			want := engine.Selector{Local: netip.PrefixFrom(gwAddr, 32), Remote: netip.PrefixFrom(public, 32),
				Protocol: 17, LocalPort: 1701, RemotePort: c.port}
			enc, ok := got[want]
			if !ok {
				t.Errorf("client %d: no gateway bundle for %s; the gateway's: %v", i+1, want, got)
				continue
			}
			if enc.OriginalAddress != c.addr || enc.RemotePort == 4500 && i > 0 {
				t.Errorf("client %d: gateway encapsulation %+v, want original address %s", i+1, enc, c.addr)
			}
			// The client's own view: its private address, the gateway's.
			mine := bundleSelectors(nodes[i].Engine)
			wantC := engine.Selector{Local: netip.PrefixFrom(c.addr, 32), Remote: netip.PrefixFrom(gwAddr, 32),
				Protocol: 17, LocalPort: c.port, RemotePort: 1701}
			if e, ok := mine[wantC]; !ok || e.OriginalAddress != gwAddr {
				t.Errorf("client %d: bundles %v, want %s with the gateway's original address", i+1, mine, wantC)
			}
		}
		for _, p := range gw.Engine.Policies() {
			if !slices.Contains([]uint16{1701, 1702}, p.Selector.RemotePort) || p.Selector.Remote != netip.PrefixFrom(public, 32) {
				t.Errorf("gateway policy %s: want the NAT's public address and a client's port", p)
			}
		}
		if n := len(gw.Engine.Policies()); n != 4 {
			t.Errorf("gateway has %d policies, want in and out for each client: %v", n, gw.Engine.Policies())
		}
		if rs := gw.Records(t, sameSelectorWarning, 0); len(rs) != 0 {
			t.Errorf("clients with different ports: %v", rs)
		}
	})
}

const sameSelectorWarning = "two clients behind one NAT negotiated the same transport selectors: the kernel sends the traffic of both to the newer SA"

// TestTransportNATSameSelectors: two clients behind one NAT that send
// L2TP from the same port (1701, as Windows does) end up with the same
// selectors at the gateway; it installs both bundles (the kernel routes
// the outbound traffic of both to the newer one) and says so.
func TestTransportNATSameSelectors(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		gwAddr, public := netip.MustParseAddr(stacktest.HostB), netip.MustParseAddr("198.51.100.1")
		gw := stacktest.StartYAML(t, l2tpYAML(gwAddr.String(), "", 0), stacktest.Options{Net: nw})
		nodes := []*stacktest.Node{gw}
		for _, a := range []string{"10.1.0.2", "10.1.0.3"} {
			nw.NAT(netip.MustParseAddr(a), public)
			nodes = append(nodes, stacktest.StartYAML(t, l2tpYAML(a, gwAddr.String(), 1701), stacktest.Options{Net: nw}))
		}
		stacktest.Wait(t, 20*time.Second, "both clients' SAs at the gateway", func() bool { return len(gw.Engine.SAs()) == 4 }, nodes...)
		rs := gw.WaitRecord(t, sameSelectorWarning, 0, 5*time.Second)
		if rs[0]["selector"] != fmt.Sprintf("%s/32[1701] <-> %s/32[1701] proto 17", gwAddr, public) {
			t.Errorf("warning %v", rs[0])
		}
	})
}
