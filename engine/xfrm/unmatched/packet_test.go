package unmatched

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// ip4 builds an IPv4 header (20 bytes) followed by t.
func ip4(proto uint8, frag uint16, t ...byte) []byte {
	b := make([]byte, 20, 20+len(t))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(t)))
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8], b[9] = 64, proto
	copy(b[12:], []byte{192, 0, 2, 2})
	copy(b[16:], []byte{192, 0, 2, 1})
	return append(b, t...)
}

// ip6 builds an IPv6 header (40 bytes) followed by t.
func ip6(next uint8, t ...byte) []byte {
	b := make([]byte, 40, 40+len(t))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(t)))
	b[6], b[7] = next, 64
	src, dst := netip.MustParseAddr("2001:db8::2").As16(), netip.MustParseAddr("2001:db8::1").As16()
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return append(b, t...)
}

func TestParse(t *testing.T) {
	udp := []byte{0x10, 0xe1, 0x27, 0x0f, 0, 8, 0, 0} // 4321 -> 9999
	tcp := append([]byte{0x30, 0x39, 0x00, 0x16}, make([]byte, 16)...)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // message 7's text; "" for ErrMalformed
	}{
		{"udp4", ip4(17, 0, udp...), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 udp:4321->9999"},
		{"tcp4", ip4(6, 0, tcp...), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 tcp:12345->22"},
		{"icmp4 echo", ip4(1, 0, 8, 0, 0, 0), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 icmp:8->0"},
		{"gre4", ip4(47, 0, 0, 0, 0x08, 0), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 47:0->0"},
		{"udp4 later fragment", ip4(17, 185, udp...), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 udp:0->0"},
		{"udp4 truncated ports", ip4(17, 0, 0x10), "Dropping IPv4 packet 192.0.2.2->192.0.2.1 udp:0->0"},
		{"udp6", ip6(17, udp...), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 udp:4321->9999"},
		{"icmp6 echo", ip6(58, 128, 0, 0, 0), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 ipv6-icmp:128->0"},
		{"udp6 after hop-by-hop", ip6(0, append([]byte{17, 0, 1, 4, 0, 0, 0, 0}, udp...)...), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 udp:4321->9999"},
		{"udp6 first fragment", ip6(44, append([]byte{17, 0, 0, 1, 0, 0, 0, 9}, udp...)...), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 udp:4321->9999"},
		{"udp6 later fragment", ip6(44, append([]byte{17, 0, 0, 0x09, 0, 0, 0, 9}, udp...)...), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 udp:0->0"},
		{"ipv6 extension header overruns", ip6(60, 17, 9, 0, 0, 0, 0, 0, 0), "Dropping IPv6 packet 2001:db8::2->2001:db8::1 60:0->0"},
		{"empty", nil, ""},
		{"version 5", []byte{0x50, 0, 0, 0}, ""},
		{"ipv4 short", ip4(17, 0)[:19], ""},
		{"ipv4 ihl too big", append([]byte{0x4f}, ip4(17, 0)[1:]...), ""},
		{"ipv4 ihl too small", append([]byte{0x44}, ip4(17, 0)[1:]...), ""},
		{"ipv6 short", ip6(17)[:39], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if tc.want == "" {
				if err != ErrMalformed {
					t.Fatalf("Parse = %+v, %v; want ErrMalformed", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := textOf(p); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(ip4(17, 0, 1, 2, 3, 4))
	f.Add(ip6(0, 17, 0, 1, 4, 0, 0, 0, 0, 1, 2, 3, 4))
	f.Add(ip6(44, 17, 0, 0, 1, 0, 0, 0, 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err == nil {
			_ = textOf(p)
			if p.Version != 4 && p.Version != 6 {
				t.Fatalf("version %d", p.Version)
			}
		}
	})
}
