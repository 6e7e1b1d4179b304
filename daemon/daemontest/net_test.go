package daemontest

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/daemon/udp"
)

// TestNetHooks: a datagram reaches the socket bound to its destination
// (or the wildcard of its port) with both addresses; Drop loses it but
// counts it as sent; Delay holds it for the virtual time asked; behind
// the NAT the source is rewritten and the answer finds its way back;
// Silence loses everything a host sends.
func TestNetHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
		var n Net
		ca, err := n.ListenUDP(a)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := n.ListenUDP(netip.MustParseAddrPort("0.0.0.0:500"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.ListenUDP(a); err == nil {
			t.Error("a second socket bound to the same address")
		}
		// B's socket is bound to the wildcard: it says which address it
		// sends from, as the daemon does (the one the peer wrote to).
		send := func(c udp.PacketConn, to netip.AddrPort, s string) {
			t.Helper()
			var from netip.AddrPort
			if c == cb {
				from = b
			}
			if err := c.WriteDatagram(udp.Datagram{Data: []byte(s), Local: from, Remote: to}); err != nil {
				t.Fatal(err)
			}
		}
		got := func(c udp.PacketConn) []udp.Datagram { synctest.Wait(); return Drain(c) }

		send(ca, b, "plain")
		if d := got(cb); len(d) != 1 || string(d[0].Data) != "plain" || d[0].Local != b || d[0].Remote != a {
			t.Fatalf("plain: %+v", d)
		}

		n.SetDrop(func(s Sent) bool { return string(s.Data) == "lost" })
		send(ca, b, "lost")
		if d := got(cb); len(d) != 0 {
			t.Errorf("dropped datagram arrived: %+v", d)
		}
		if k := n.Count(func(s Sent) bool { return s.Lost }); k != 1 {
			t.Errorf("%d lost datagrams counted, want 1", k)
		}
		n.SetDrop(nil)

		n.SetDelay(func(Sent) time.Duration { return 3 * time.Second })
		send(ca, b, "late")
		time.Sleep(2 * time.Second)
		if d := got(cb); len(d) != 0 {
			t.Errorf("delayed datagram arrived after 2 s: %+v", d)
		}
		time.Sleep(2 * time.Second)
		if d := got(cb); len(d) != 1 || string(d[0].Data) != "late" {
			t.Errorf("delayed datagram after 4 s: %+v", d)
		}
		n.SetDelay(nil)

		public := netip.MustParseAddr("198.51.100.1")
		n.NAT(a.Addr(), public)
		send(ca, b, "out")
		d := got(cb)
		want := netip.AddrPortFrom(public, a.Port()+NATPortShift)
		if len(d) != 1 || d[0].Remote != want {
			t.Fatalf("behind the NAT: %+v, want from %v", d, want)
		}
		send(cb, d[0].Remote, "back")
		if d := got(ca); len(d) != 1 || string(d[0].Data) != "back" || d[0].Local != a {
			t.Errorf("answer through the NAT: %+v", d)
		}

		n.Silence(b.Addr(), true)
		send(cb, a, "silent")
		if d := got(ca); len(d) != 0 {
			t.Errorf("a silent host's datagram arrived: %+v", d)
		}
		if k := len(n.Sent()); k != 5 {
			t.Errorf("%d datagrams on the wire, want 5 (a silent host sends none)", k)
		}
		if err := n.Inject(b, a, []byte("forged")); err == nil {
			t.Error("Inject from an address nothing is bound to")
		}
	})
}
