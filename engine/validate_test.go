package engine

import (
	"errors"
	"net/netip"
	"testing"
)

func okBundle() *Bundle {
	esp := func(spi uint32) SA {
		return SA{Protocol: ProtoESP, SPI: spi, Encryption: &Cipher{Name: "cbc(aes)", Key: make(Key, 16)},
			Integrity: &Integrity{Name: "hmac(sha256)", Key: make(Key, 32), TruncBits: 128}}
	}
	return &Bundle{ID: 1, Mode: ModeTunnel, Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		Inbound: []SA{esp(0x100)}, Outbound: []SA{esp(0x200)}}
}

func TestBundleValidate(t *testing.T) {
	comp := SA{Protocol: ProtoIPComp, SPI: 0x300, Compression: &Compression{Name: "deflate"}}
	tests := []struct {
		name string
		edit func(b *Bundle)
		want error
	}{
		{"ok", func(b *Bundle) {}, nil},
		{"ipcomp chain", func(b *Bundle) { b.Inbound = append(b.Inbound, comp); b.Outbound = append(b.Outbound, comp) }, nil},
		{"chain mismatch", func(b *Bundle) { b.Inbound = append(b.Inbound, comp) }, ErrChainMismatch},
		{"duplicate", func(b *Bundle) { b.Inbound = append(b.Inbound, b.Inbound[0]) }, ErrDuplicate},
		{"mixed families", func(b *Bundle) { b.Remote = netip.MustParseAddr("2001:db8::2") }, ErrBadAddresses},
		{"reserved spi", func(b *Bundle) { b.Outbound[0].SPI = 255 }, ErrBadSPI},
		{"cpi too big", func(b *Bundle) {
			c := comp
			c.SPI = 0x10000
			b.Inbound = append(b.Inbound, c)
			b.Outbound = append(b.Outbound, comp)
		}, ErrBadSPI},
		{"esp without integrity", func(b *Bundle) { b.Inbound[0].Integrity = nil }, ErrAlgorithms},
		{"aead with integrity", func(b *Bundle) {
			b.Inbound[0].Encryption = &Cipher{Name: "rfc4106(gcm(aes))", Key: make(Key, 20), ICVBits: 128}
		}, ErrAlgorithms},
		{"encap without ports", func(b *Bundle) { b.Encap = &Encap{LocalPort: 4500} }, ErrEncap},
		{"soft above hard", func(b *Bundle) { b.Lifetime = Lifetime{SoftSeconds: 10, HardSeconds: 5} }, ErrLifetime},
		{"not ipsec", func(b *Bundle) { b.Inbound[0].Protocol = 17 }, ErrBadProtocol},
	}
	for _, tt := range tests {
		b := okBundle()
		tt.edit(b)
		if err := b.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSAModeChain(t *testing.T) {
	b := okBundle()
	sas := []SA{{Protocol: ProtoAH}, {Protocol: ProtoESP}, {Protocol: ProtoIPComp}}
	want := map[Protocol]Mode{ProtoIPComp: ModeTunnel, ProtoESP: ModeTransport, ProtoAH: ModeTransport}
	for p, m := range want {
		if got := b.SAMode(sas, p); got != m {
			t.Errorf("%s: %s, want %s", p, got, m)
		}
	}
	if got := b.SAMode(sas[:2], ProtoESP); got != ModeTunnel {
		t.Errorf("ESP+AH: ESP %s", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	gw1, gw2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	sel := Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	tests := []struct {
		name string
		p    Policy
		want error
	}{
		{"tunnel", Policy{Dir: DirOut, Selector: sel, Mode: ModeTunnel, Local: gw1, Remote: gw2, Protocols: []Protocol{ProtoESP}}, nil},
		{"tunnel no endpoints", Policy{Dir: DirOut, Selector: sel, Mode: ModeTunnel, Protocols: []Protocol{ProtoESP}}, ErrPolicyEndpoints},
		{"no protocols", Policy{Dir: DirIn, Selector: sel}, ErrPolicyChain},
		{"repeated", Policy{Dir: DirIn, Selector: sel, Protocols: []Protocol{ProtoESP, ProtoESP}}, ErrPolicyChain},
		{"mixed", Policy{Dir: DirIn, Selector: Selector{Local: sel.Local, Remote: netip.MustParsePrefix("2001:db8::/32")}, Protocols: []Protocol{ProtoAH}}, ErrPolicySelector},
		{"ports icmp", Policy{Dir: DirIn, Selector: Selector{Protocol: 1, LocalPort: 7}, Protocols: []Protocol{ProtoAH}}, ErrPolicyPorts},
		{"ports udp", Policy{Dir: DirIn, Selector: Selector{Protocol: 17, LocalPort: 7}, Protocols: []Protocol{ProtoAH}}, nil},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestTransformMapping(t *testing.T) {
	tests := []struct {
		id, bits int
		want     CipherSpec
	}{
		{3, 0, CipherSpec{Name: "cbc(des3_ede)", KeyBytes: 24}},
		{12, 128, CipherSpec{Name: "cbc(aes)", KeyBytes: 16}},
		{12, 256, CipherSpec{Name: "cbc(aes)", KeyBytes: 32}},
		{13, 128, CipherSpec{Name: "rfc3686(ctr(aes))", KeyBytes: 20}},
		{18, 128, CipherSpec{Name: "rfc4106(gcm(aes))", KeyBytes: 20, ICVBits: 64}},
		{20, 256, CipherSpec{Name: "rfc4106(gcm(aes))", KeyBytes: 36, ICVBits: 128}},
		{16, 192, CipherSpec{Name: "rfc4309(ccm(aes))", KeyBytes: 27, ICVBits: 128}},
		{11, 0, CipherSpec{Name: "ecb(cipher_null)"}},
		{7, 0, CipherSpec{Name: "cbc(blowfish)", KeyBytes: 16}},
	}
	for _, tt := range tests {
		got, err := ESPCipher(uint16(tt.id), tt.bits)
		if err != nil || got != tt.want {
			t.Errorf("ESP %d/%d: %+v %v, want %+v", tt.id, tt.bits, got, err, tt.want)
		}
	}
	for _, bad := range [][2]int{{12, 0}, {12, 100}, {20, 0}, {2, 128}, {99, 0}} {
		if _, err := ESPCipher(uint16(bad[0]), bad[1]); err == nil {
			t.Errorf("ESP %d/%d accepted", bad[0], bad[1])
		}
	}
	auth := map[uint16]IntegritySpec{
		1: {"hmac(md5)", 16, 96}, 2: {"hmac(sha1)", 20, 96}, 5: {"hmac(sha256)", 32, 128},
		6: {"hmac(sha384)", 48, 192}, 7: {"hmac(sha512)", 64, 256},
	}
	for v, want := range auth {
		if got, err := AuthAlgorithm(v); err != nil || got != want {
			t.Errorf("auth %d: %+v %v", v, got, err)
		}
	}
	if got, _ := AHTransform(3); got.Name != "hmac(sha1)" {
		t.Errorf("AH_SHA: %+v", got)
	}
	if got, _ := IPCompTransform(2); got.Name != "deflate" {
		t.Errorf("IPCOMP_DEFLATE: %+v", got)
	}
	if _, err := AuthAlgorithm(3); !errors.Is(err, ErrUnsupportedTransform) {
		t.Errorf("DES-MAC: %v", err)
	}
}

func TestStringers(t *testing.T) {
	for got, want := range map[string]string{
		ProtoESP.String(): "ESP", ProtoIPComp.String(): "IPCOMP", Protocol(9).String(): "Protocol(9)",
		ModeTunnel.String(): "tunnel", DirFwd.String(): "fwd", ReqDetach.String(): "detach",
		EventAcquire.String(): "acquire", (SA{Protocol: ProtoAH, SPI: 0x1234}).String(): "AH[0x00001234]",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
