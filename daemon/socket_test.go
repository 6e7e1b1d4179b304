package daemon

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// TestSystemSocketWriteDatagrams sends more datagrams than one sendmmsg
// takes, one as large as a UDP datagram gets, to two receivers in turn,
// from a socket bound to loopback and from one bound to the wildcard
// address (whose datagrams name their source address in a control
// message), and checks each received whole, in order, from the socket's
// address. A datagram it cannot send (the wrong family) stops the call at
// its index with its error; the rest then leave.
func TestSystemSocketWriteDatagrams(t *testing.T) {
	for _, tc := range []struct{ bind, to, other string }{
		{"0.0.0.0:0", "127.0.0.1", "[2001:db8::1]:500"}, {"127.0.0.1:0", "127.0.0.1", "[2001:db8::1]:500"},
		{"[::]:0", "::1", "192.0.2.1:500"}, {"[::1]:0", "::1", "192.0.2.1:500"},
	} {
		t.Run(tc.bind, func(t *testing.T) {
			pc, r1, _ := systemSocketPair(t, tc.bind, tc.to)
			r2, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tc.to), 0)))
			if err != nil {
				t.Skipf("cannot bind %s here: %v", tc.to, err)
			}
			t.Cleanup(func() { r2.Close() })
			to := []netip.AddrPort{r1.LocalAddr().(*net.UDPAddr).AddrPort(), r2.LocalAddr().(*net.UDPAddr).AddrPort()}
			local := netip.AddrPortFrom(netip.MustParseAddr(tc.to), pc.LocalAddr().Port())
			var ds []Datagram
			for i := range 2*batchSize + 3 {
				n := 100 + i
				if i == batchSize+1 {
					n = 60000
				}
				ds = append(ds, Datagram{Data: bytes.Repeat([]byte{byte(i)}, n), Local: local, Remote: to[i%2]})
			}
			bad := batchSize + 4
			ds = slices.Insert(ds, bad, Datagram{Data: []byte("wrong family"), Local: local, Remote: netip.MustParseAddrPort(tc.other)})
			bw := pc.(batchWriter)
			k, err := bw.WriteDatagrams(ds)
			if k != bad || err == nil {
				t.Fatalf("WriteDatagrams: %d sent, error %v; want %d and an error", k, err, bad)
			}
			if k, err := bw.WriteDatagrams(ds[bad+1:]); k != len(ds)-bad-1 || err != nil {
				t.Fatalf("WriteDatagrams of the rest: %d sent, error %v; want %d", k, err, len(ds)-bad-1)
			}
			ds = slices.Delete(ds, bad, bad+1)
			for r, c := range []*net.UDPConn{r1, r2} {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 65536)
				for i := r; i < len(ds); i += 2 {
					n, src, err := c.ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatalf("receiver %d, datagram %d: %v", r+1, i, err)
					}
					if !bytes.Equal(buf[:n], ds[i].Data) {
						t.Fatalf("receiver %d, datagram %d: %d bytes of %x, want %d of %x", r+1, i, n, buf[:1], len(ds[i].Data), ds[i].Data[0])
					}
					if src.Addr().Unmap() != local.Addr() || src.Port() != local.Port() {
						t.Fatalf("receiver %d, datagram %d from %s, want %s", r+1, i, src, local)
					}
				}
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

// TestSystemSocketLinkLocal: a datagram between two link-local addresses
// reads with the zones the daemon has always given them: the source's is
// its interface's name, the destination's the interface's index (from
// IPV6_PKTINFO). It needs an interface with an IPv6 link-local address.
func TestSystemSocketLinkLocal(t *testing.T) {
	var ll netip.Addr
	var ifi net.Interface
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
				ll, ifi = p.Addr(), i
			}
		}
	}
	if !ll.IsValid() {
		t.Skip("no IPv6 link-local address here")
	}
	pc, err := SystemNetwork{}.ListenUDP(netip.MustParseAddrPort("[::]:0"))
	if err != nil {
		t.Skipf("cannot bind [::]:0 here: %v", err)
	}
	defer pc.Close()
	zoned := ll.WithZone(ifi.Name)
	c, err := net.DialUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(zoned, 0)),
		net.UDPAddrFromAddrPort(netip.AddrPortFrom(zoned, pc.LocalAddr().Port())))
	if err != nil {
		t.Skipf("cannot send from %s here: %v", zoned, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("link-local")); err != nil {
		t.Fatal(err)
	}
	dg, err := pc.ReadDatagram(nil)
	if err != nil {
		t.Fatal(err)
	}
	from := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if dg.Remote != from || dg.Remote.Addr().Zone() != ifi.Name {
		t.Errorf("from %s, want %s", dg.Remote, from)
	}
	if want := netip.AddrPortFrom(ll.WithZone(strconv.Itoa(ifi.Index)), pc.LocalAddr().Port()); dg.Local != want {
		t.Errorf("to %s, want %s", dg.Local, want)
	}
	if string(dg.Data) != "link-local" {
		t.Errorf("read %q", dg.Data)
	}
}

// TestSockaddrAddrPort: the sockaddrs the kernel writes, and what is not
// one.
func TestSockaddrAddrPort(t *testing.T) {
	in4 := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(in4, unix.AF_INET)
	binary.BigEndian.PutUint16(in4[2:], 500)
	copy(in4[4:], []byte{192, 0, 2, 1})
	in6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(in6, unix.AF_INET6)
	binary.BigEndian.PutUint16(in6[2:], 4500)
	copy(in6[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	scoped := bytes.Clone(in6)
	copy(scoped[8:], netip.MustParseAddr("fe80::1").AsSlice())
	binary.NativeEndian.PutUint32(scoped[24:], 1<<30) // no such interface
	other := bytes.Clone(in4)
	binary.NativeEndian.PutUint16(other, unix.AF_UNIX)
	for _, tc := range []struct {
		sa   []byte
		want string
	}{
		{in4, "192.0.2.1:500"}, {in6, "[2001:db8::1]:4500"}, {scoped, "[fe80::1%1073741824]:4500"},
		{in4[:unix.SizeofSockaddrInet4-1], ""}, {in6[:unix.SizeofSockaddrInet6-1], ""}, {other, ""}, {in4[:1], ""},
	} {
		ap, ok := sockaddrAddrPort(tc.sa)
		if got := ap.String(); ok != (tc.want != "") || ok && got != tc.want {
			t.Errorf("% x: %s %v, want %q", tc.sa, got, ok, tc.want)
		}
	}
}
