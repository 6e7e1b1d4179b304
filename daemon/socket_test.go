package daemon

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestSystemSocketBatch sends more datagrams than one batch holds, one of
// them as large as a UDP datagram gets, to a real socket bound to the
// wildcard address and to one bound to loopback, and checks each read
// whole, in order, with both addresses (IP_PKTINFO / IPV6_PKTINFO); then
// the socket answers from the address the datagram came to, and the
// sender receives the answer from it.
func TestSystemSocketBatch(t *testing.T) {
	for _, tc := range []struct{ bind, to string }{
		{"0.0.0.0:0", "127.0.0.1"}, {"127.0.0.1:0", "127.0.0.1"}, {"[::]:0", "::1"}, {"[::1]:0", "::1"},
	} {
		t.Run(tc.bind, func(t *testing.T) {
			pc, c, dst := systemSocketPair(t, tc.bind, tc.to)
			var sent [][]byte
			for i := range 2*batchSize + 3 {
				n := 100 + i
				if i == batchSize+1 {
					n = 60000
				}
				p := bytes.Repeat([]byte{byte(i)}, n)
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
				sent = append(sent, p)
			}
			from := c.LocalAddr().(*net.UDPAddr).AddrPort()
			var last Datagram
			for i, want := range sent {
				dg, err := pc.ReadDatagram(make([]byte, 10))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dg.Data, want) {
					t.Fatalf("datagram %d: %d bytes of %x, want %d of %x", i, len(dg.Data), dg.Data[:1], len(want), want[0])
				}
				if dg.Remote.Port() != from.Port() || dg.Remote.Addr().Unmap() != from.Addr().Unmap() {
					t.Fatalf("datagram %d from %s, want %s", i, dg.Remote, from)
				}
				if dg.Local != dst {
					t.Fatalf("datagram %d to %s, want %s", i, dg.Local, dst)
				}
				last = dg
			}
			if err := pc.WriteDatagram(Datagram{Data: []byte("answer"), Local: last.Local, Remote: last.Remote}); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 100)
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:n]) != "answer" || src.Addr().Unmap() != dst.Addr() || src.Port() != dst.Port() {
				t.Fatalf("answer %q from %s, want from %s", buf[:n], src, dst)
			}
		})
	}
}

// BenchmarkSystemSocketRead counts what reading one datagram costs on a
// real socket bound to the wildcard address (so that each read parses
// its destination from IP_PKTINFO / IPV6_PKTINFO): each op sends a batch
// of datagrams from a connected socket and reads them, one op per
// datagram. Its figure of interest is allocs/op:
//
//	go test -run '^$' -bench SystemSocketRead -benchmem ./daemon/
func BenchmarkSystemSocketRead(b *testing.B) {
	for _, tc := range []struct{ bind, to string }{{"0.0.0.0:0", "127.0.0.1"}, {"[::]:0", "::1"}} {
		b.Run(tc.to, func(b *testing.B) {
			pc, c, dst := systemSocketPair(b, tc.bind, tc.to)
			msg := bytes.Repeat([]byte{1}, 300)
			b.ReportAllocs()
			for i := 0; i < b.N; i += batchSize {
				k := min(batchSize, b.N-i)
				for range k {
					if _, err := c.Write(msg); err != nil {
						b.Fatal(err)
					}
				}
				for range k {
					dg, err := pc.ReadDatagram(nil)
					if err != nil || len(dg.Data) != len(msg) || dg.Local != dst {
						b.Fatalf("read %d bytes to %s, %v", len(dg.Data), dg.Local, err)
					}
				}
			}
		})
	}
}

// systemSocketPair binds a socket of SystemNetwork to bind and connects a
// plain UDP socket to its port at the address to, for the test; it skips
// the test where the host has no such address.
func systemSocketPair(t testing.TB, bind, to string) (pc PacketConn, c *net.UDPConn, dst netip.AddrPort) {
	t.Helper()
	pc, err := SystemNetwork{}.ListenUDP(netip.MustParseAddrPort(bind))
	if err != nil {
		t.Skipf("cannot bind %s here: %v", bind, err)
	}
	t.Cleanup(func() { pc.Close() })
	dst = netip.AddrPortFrom(netip.MustParseAddr(to), pc.LocalAddr().Port())
	c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Skipf("no route to %s here: %v", to, err)
	}
	t.Cleanup(func() { c.Close() })
	return pc, c, dst
}
