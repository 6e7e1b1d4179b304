package quickmode

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// TestUpTexts: the texts of the "IPsec SA established" line, made in one
// buffer, are those each field's own formatting gives.
func TestUpTexts(t *testing.T) {
	a := netip.MustParseAddr
	host := func(s string) policymgr.Selector {
		return policymgr.Selector{Addr: policymgr.Range{From: a(s), To: a(s)}}
	}
	net := policymgr.Selector{Addr: policymgr.Range{From: a("2001:db8:1::"), To: a("2001:db8:1::ffff")}, Proto: 17, Port: 4500}
	esp := ChildSA{Protocol: isakmp.ProtoESP, SPIIn: 0xc0ffee01, SPIOut: 0x100, Integrity: "hmac(sha256)", TruncBits: 128}
	ah := ChildSA{Protocol: isakmp.ProtoAH, SPIIn: 0xffffffff, SPIOut: 0x12345678, Integrity: "hmac(sha1)", TruncBits: 96}
	gcm := ChildSA{Protocol: isakmp.ProtoESP, SPIIn: 0x1000, SPIOut: 0x2000, Cipher: "rfc4106(gcm(aes))"}
	comp := ChildSA{Protocol: isakmp.ProtoIPCOMP, SPIIn: 0x4001, SPIOut: 0x4002, Compression: "deflate"}
	for i, tc := range []struct {
		local, remote policymgr.Selector
		c             Child
	}{
		{host("192.0.2.1"), host("192.0.2.2"), Child{Local: a("192.0.2.1"), Remote: a("192.0.2.2"), SAs: []ChildSA{esp}}},
		{policymgr.Selector{}, net, Child{Local: a("2001:db8::1"), Remote: a("::ffff:198.51.100.7"), SAs: []ChildSA{comp, esp, ah}}},
		{net, host("10.0.0.1"), Child{SAs: []ChildSA{gcm}}},
		{host("10.0.0.1"), host("10.0.0.2"), Child{Local: a("10.0.0.1")}},
	} {
		x := &Exchange{Local: tc.local, Remote: tc.remote}
		got := x.upTexts(&tc.c)
		want := upTexts{local: selectorText(tc.local), remote: selectorText(tc.remote), spis: spiText(&tc.c),
			localGW: tc.c.Local.String(), remoteGW: tc.c.Remote.String()}
		if len(tc.c.SAs) > 0 {
			s := tc.c.SAs[0]
			want.spiIn, want.spiOut = spiHex(s.SPIIn), spiHex(s.SPIOut)
			if s.Integrity != "" {
				want.integrity = s.Integrity + "/" + strconv.Itoa(s.TruncBits)
			}
		}
		if got != want {
			t.Errorf("%d: got  %+v\nwant %+v", i, got, want)
		}
	}
	for _, p := range []engine.Protocol{engine.ProtoESP, engine.ProtoAH, engine.ProtoIPComp, 99} {
		if got, want := lowerProto(p), map[engine.Protocol]string{50: "esp", 51: "ah", 108: "ipcomp", 99: "protocol(99)"}[p]; got != want {
			t.Errorf("lowerProto(%d) = %q, want %q", p, got, want)
		}
	}
}
