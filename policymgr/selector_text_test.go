package policymgr

import (
	"net/netip"
	"testing"
)

// TestSelectorText pins the text of ranges and selectors (messages 57
// and 58, the log lines of every SA), String and AppendTo alike.
func TestSelectorText(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		s    Selector
		want string
	}{
		{Selector{}, "any"},
		{Selector{Addr: Range{From: a("192.0.2.1"), To: a("192.0.2.1")}}, "192.0.2.1"},
		{Selector{Addr: Range{From: a("2001:db8::1"), To: a("2001:db8::1")}}, "2001:db8::1"},
		{Selector{Addr: Range{From: a("::ffff:192.0.2.1"), To: a("::ffff:192.0.2.1")}}, "::ffff:192.0.2.1"},
		{Selector{Addr: Range{From: a("10.1.0.0"), To: a("10.1.255.255")}}, "10.1.0.0/16"},
		{Selector{Addr: Range{From: a("0.0.0.0"), To: a("255.255.255.255")}}, "0.0.0.0/0"},
		{Selector{Addr: Range{From: a("2001:db8::"), To: a("2001:db8::3")}}, "2001:db8::/126"},
		{Selector{Addr: Range{From: a("::ffff:10.0.0.0"), To: a("::ffff:10.0.0.255")}}, "::ffff:10.0.0.0/120"},
		{Selector{Addr: Range{From: a("10.0.0.1"), To: a("10.0.0.5")}}, "10.0.0.1-10.0.0.5"},
		{Selector{Addr: Range{From: a("2001:db8::1"), To: a("2001:db8::9")}}, "2001:db8::1-2001:db8::9"},
		{Selector{Addr: Range{From: a("10.0.0.1")}}, "10.0.0.1-invalid IP"},
		{Selector{Addr: Range{From: a("10.0.0.1"), To: a("10.0.0.1")}, Proto: 6}, "10.0.0.1[tcp]"},
		{Selector{Addr: Range{From: a("10.0.0.0"), To: a("10.0.0.255")}, Proto: 17, Port: 500}, "10.0.0.0/24[udp/500]"},
		{Selector{Proto: 47, Port: 65535}, "any[47/65535]"},
		{Selector{Proto: 58}, "any[ipv6-icmp]"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if got := string(tc.s.AppendTo([]byte("x"))); got != "x"+tc.want {
			t.Errorf("AppendTo = %q, want %q", got, "x"+tc.want)
		}
		if tc.s.Proto == 0 && tc.s.Addr.String() != tc.want {
			t.Errorf("Range.String() = %q, want %q", tc.s.Addr.String(), tc.want)
		}
	}
}
