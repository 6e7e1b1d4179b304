package modecfg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

func asked(ts ...AttrType) []isakmp.Attribute {
	var out []isakmp.Attribute
	for _, t := range ts {
		out = append(out, variable(t, nil))
	}
	return out
}

func types(attrs []isakmp.Attribute) []AttrType {
	var out []AttrType
	for _, a := range attrs {
		out = append(out, AttrType(a.Type))
	}
	return out
}

// TestSplitIncludeBytes: Unity SPLIT_INCLUDE is address, mask and six
// zero bytes per network, as strongSwan's unity plugin
// (unity_provider.c) and vpnc encode it; IPv6 networks are left out.
func TestSplitIncludeBytes(t *testing.T) {
	got := unitySplit([]netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("203.0.113.128/25")})
	want, _ := hex.DecodeString("c6336400ffffff00000000000000" + "cb007180ffffff80000000000000")
	if !bytes.Equal(got, want) {
		t.Errorf("split include %x, want %x", got, want)
	}
	back, err := parseUnitySplit(UnitySplitInclude, got)
	if err != nil || len(back) != 2 || back[1].String() != "203.0.113.128/25" {
		t.Errorf("back %v %v", back, err)
	}
	// strongSwan's attr plugin (swanctl pools' split_exclude) sends a
	// network without the padding, one per attribute.
	for _, short := range []string{"c6336400ffffff00", "c6336400ffffff00000000000000" + "cb007180ffffff80"} {
		b, _ := hex.DecodeString(short)
		if back, err := parseUnitySplit(UnityLocalLAN, b); err != nil || back[0].String() != "198.51.100.0/24" || len(back) != len(b)/splitEntryLen+1 {
			t.Errorf("%s: %v %v", short, back, err)
		}
	}
	for _, bad := range []string{"c6336400ffffff0000000000", "c6336400ff00ff00000000000000", "c6336400ffffff00ff"} {
		b, _ := hex.DecodeString(bad)
		if _, err := parseUnitySplit(UnitySplitInclude, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestSplitExcludeAndIP6Subnet: a pool's split-exclude goes as Unity
// LOCAL_LAN (28678; strongSwan's unity plugin installs a bypass policy
// for it, its attr plugin sends split_exclude so), in the SPLIT_INCLUDE
// format, to a push or a request that asks for it; an IPv6 pool's
// split-include goes as INTERNAL_IP6_SUBNET, 16 bytes and the prefix
// length, never as Unity's. The client parses both.
func TestSplitExcludeAndIP6Subnet(t *testing.T) {
	if UnityLocalLAN != 28678 || InternalIP6Subnet != 15 {
		t.Fatalf("LOCAL_LAN %d, INTERNAL_IP6_SUBNET %d", UnityLocalLAN, InternalIP6Subnet)
	}
	gw := gateway(t, "10.99.0.0/24")
	p := gw.ModeConfig.Pool
	p.SplitExclude = []netip.Prefix{netip.MustParsePrefix("198.51.100.128/26")}
	a := netip.MustParseAddr("10.99.0.7")
	for _, ask := range [][]isakmp.Attribute{nil, asked(InternalIP4Address, UnityLocalLAN)} {
		r := replyAttributes(p, a, ask)
		var lan []byte
		for _, at := range r {
			if AttrType(at.Type) == UnityLocalLAN {
				lan = at.Data
			}
		}
		if want, _ := hex.DecodeString("c6336480ffffffc0000000000000"); !bytes.Equal(lan, want) {
			t.Errorf("asked %v: LOCAL_LAN %x, want %x", types(ask), lan, want)
		}
		c, err := Parse(r)
		if err != nil || len(c.Exclude) != 1 || c.Exclude[0] != p.SplitExclude[0] {
			t.Errorf("asked %v: parsed %+v %v", types(ask), c, err)
		}
	}
	for _, typ := range types(replyAttributes(p, a, asked(InternalIP4Address, UnitySplitInclude))) {
		if typ == UnityLocalLAN {
			t.Errorf("LOCAL_LAN sent unasked")
		}
	}

	v6 := gateway(t, "2001:db8:99::/112").ModeConfig.Pool
	v6.SplitInclude = []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}
	a6 := netip.MustParseAddr("2001:db8:99::5")
	for _, ask := range [][]isakmp.Attribute{nil, asked(InternalIP6Address, InternalIP6Subnet, UnitySplitInclude)} {
		r := replyAttributes(v6, a6, ask)
		var sub []byte
		for _, at := range r {
			switch AttrType(at.Type) {
			case InternalIP6Subnet:
				sub = at.Data
			case UnitySplitInclude:
				t.Errorf("an IPv6 network went as SPLIT_INCLUDE")
			}
		}
		if want, _ := hex.DecodeString("20010db80001000000000000000000" + "0030"); !bytes.Equal(sub, want) {
			t.Errorf("asked %v: INTERNAL_IP6_SUBNET %x, want %x", types(ask), sub, want)
		}
		if c, err := Parse(r); err != nil || len(c.Split) != 1 || c.Split[0] != v6.SplitInclude[0] {
			t.Errorf("asked %v: parsed %+v %v", types(ask), c, err)
		}
	}
	for _, bad := range []string{"20010db8000100000000000000000000", "20010db80001000000000000000000" + "0081"} {
		b, _ := hex.DecodeString(bad)
		if _, err := Parse([]isakmp.Attribute{variable(InternalIP6Subnet, b)}); !errors.Is(err, ErrMalformed) {
			t.Errorf("INTERNAL_IP6_SUBNET %s: %v", bad, err)
		}
	}
}

// TestReplyHonoursRequest: nothing asked (push, or an empty REQUEST)
// gets everything; a request gets what it asked for among what the pool
// has; an IPv6 pool answers with 16 bytes and the prefix length.
func TestReplyHonoursRequest(t *testing.T) {
	gw := gateway(t, "10.99.0.0/24")
	p := gw.ModeConfig.Pool
	p.DNS = append(p.DNS, netip.MustParseAddr("2001:db8::53"))
	a := netip.MustParseAddr("10.99.0.7")
	all := replyAttributes(p, a, nil)
	if got := types(all); len(got) != 7 {
		t.Errorf("push: %v", got)
	}
	c, err := Parse(all)
	if err != nil || c.Address != a || c.Bits != 24 || len(c.DNS) != 2 || c.Domain != "example.net" ||
		c.Banner != "Authorised use only" || len(c.Split) != 1 {
		t.Errorf("push parsed %+v %v", c, err)
	}
	// vpnc asks for these (its config.c); no IPv6 DNS, no banner.
	got := types(replyAttributes(p, a, asked(InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, UnityDefDomain, UnitySplitInclude)))
	want := []AttrType{InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, UnityDefDomain, UnitySplitInclude}
	if len(got) != len(want) {
		t.Fatalf("vpnc's request: %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("vpnc's request: %v, want %v", got, want)
		}
	}
	sup := replyAttributes(p, a, asked(SupportedAttributes, ApplicationVersion, InternalIP4Subnet))
	if len(sup) != 3 || string(sup[1].Data) != "iked" || len(sup[2].Data) != 2*len(supported) {
		t.Errorf("supported/version/subnet: %v", sup)
	}
	if c, _ := Parse(sup); len(c.Split) != 1 || c.Split[0].String() != "198.51.100.0/24" {
		t.Errorf("INTERNAL_IP4_SUBNET %+v", c)
	}
	v6 := gateway(t, "2001:db8:99::/112")
	a6 := netip.MustParseAddr("2001:db8:99::5")
	r := replyAttributes(v6.ModeConfig.Pool, a6, asked(InternalIP6Address))
	if len(r) != 1 || len(r[0].Data) != 17 || r[0].Data[16] != 112 {
		t.Fatalf("v6 %v", r)
	}
	if c, err := Parse(r); err != nil || c.Address != a6 || c.Bits != 112 {
		t.Errorf("v6 parsed %+v %v", c, err)
	}
	// The draft's 16 bytes parse too.
	if c, err := Parse([]isakmp.Attribute{variable(InternalIP6Address, a6.AsSlice())}); err != nil || c.Address != a6 {
		t.Errorf("16-byte v6 %+v %v", c, err)
	}
}

// TestRequestedAddress: a client asking for an address nobody had gets
// it; one outside the pool or had by another is not granted.
func TestRequestedAddress(t *testing.T) {
	now := testNow()
	s := open(t, t.TempDir(), &now)
	defer s.Close()
	gw := gateway(t, "10.99.0.0/24")
	ask := func(a string) []isakmp.Attribute {
		return []isakmp.Attribute{variable(InternalIP4Address, netip.MustParseAddr(a).AsSlice())}
	}
	r, err := s.Reply(gw, cookies(1), "fqdn:a", "", ask("10.99.0.50"))
	if err != nil || addressOf(t, r).String() != "10.99.0.50" {
		t.Fatalf("asked .50: %v %v", r, err)
	}
	r, _ = s.Reply(gw, cookies(2), "fqdn:b", "", ask("10.99.0.50"))
	if addressOf(t, r).String() != "10.99.0.1" {
		t.Errorf("b asked for a's: %v", r)
	}
	r, _ = s.Reply(gw, cookies(3), "fqdn:c", "", ask("192.0.2.1"))
	if addressOf(t, r).String() != "10.99.0.2" {
		t.Errorf("c asked outside: %v", r)
	}
}

// TestParseMalformed: wrong lengths, a second address, a broken netmask,
// a flood of DNS servers, text that is not UTF-8 are errors; unknown and
// empty attributes are skipped.
func TestParseMalformed(t *testing.T) {
	ok := []isakmp.Attribute{variable(InternalIP4Address, []byte{10, 0, 0, 1}), variable(UnityUnknown, []byte("x")),
		variable(InternalIP4DNS, nil), {Type: uint16(UnityPFS), Basic: true, Value: 1}}
	if c, err := Parse(ok); err != nil || c.Address.String() != "10.0.0.1" {
		t.Errorf("good: %+v %v", c, err)
	}
	many := []isakmp.Attribute{}
	for range 9 {
		many = append(many, variable(InternalIP4DNS, []byte{192, 0, 2, 53}))
	}
	for name, attrs := range map[string][]isakmp.Attribute{
		"short address":  {variable(InternalIP4Address, []byte{10, 0, 1})},
		"two addresses":  {variable(InternalIP4Address, []byte{10, 0, 0, 1}), variable(InternalIP4Address, []byte{10, 0, 0, 2})},
		"holey netmask":  {variable(InternalIP4Netmask, []byte{255, 0, 255, 0})},
		"v6 netmask":     {variable(InternalIP4Netmask, make([]byte, 16))},
		"dns flood":      many,
		"latin-1 banner": {variable(UnityBanner, []byte{0xff, 0xfe})},
		"subnet length":  {variable(InternalIP4Subnet, []byte{10, 0, 0, 0})},
		"v6 prefix 200":  {variable(InternalIP6Address, append(make([]byte, 16), 200))},
	} {
		if _, err := Parse(attrs); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRequestFamily: a client asks for one family's address, that of its
// remote networks; a connection without request: true asks nothing.
func TestRequestFamily(t *testing.T) {
	s := &Store{}
	v4 := &policymgr.Connection{ModeConfig: &policymgr.ModeConfig{Request: true}}
	v4.Remote.Addr = policymgr.RangeOf(netip.MustParsePrefix("198.51.100.0/24"))
	if got := types(s.Request(v4)); got[0] != InternalIP4Address || len(got) != 7 || got[6] != UnityLocalLAN {
		t.Errorf("v4 asks %v", got)
	}
	v6 := &policymgr.Connection{ModeConfig: &policymgr.ModeConfig{Request: true}, RemoteGW: netip.MustParseAddr("2001:db8::1")}
	if got := types(s.Request(v6)); got[0] != InternalIP6Address || got[1] != InternalIP6DNS || got[2] != InternalIP6Subnet {
		t.Errorf("v6 asks %v", got)
	}
	if got := s.Request(&policymgr.Connection{}); got != nil {
		t.Errorf("no mode-config asks %v", got)
	}
}

func TestAttrTypeString(t *testing.T) {
	if InternalIP6Subnet.String() != "INTERNAL_IP6_SUBNET" || UnitySplitInclude.String() != "UNITY_SPLIT_INCLUDE" ||
		AttrType(999).String() != "MODECFG_ATTRIBUTE(999)" {
		t.Error(InternalIP6Subnet, UnitySplitInclude, AttrType(999))
	}
}
