package engine_test

import (
	"bytes"
	"net/netip"

	"github.com/iked/iked/engine"
)

var (
	gwA = netip.MustParseAddr("192.0.2.1")
	gwB = netip.MustParseAddr("192.0.2.2")
)

func hexKey(n int, seed byte) engine.Key {
	return engine.Key(bytes.Repeat([]byte{seed}, n))
}

// espBundle is a tunnel-mode AES-128-CBC/HMAC-SHA256 bundle with inbound
// SPI in and outbound SPI out.
func espBundle(id, in, out uint32) *engine.Bundle {
	sa := func(spi uint32, seed byte) engine.SA {
		return engine.SA{Protocol: engine.ProtoESP, SPI: spi,
			Encryption: &engine.Cipher{Name: "cbc(aes)", Key: hexKey(16, seed)},
			Integrity:  &engine.Integrity{Name: "hmac(sha256)", Key: hexKey(32, seed+1), TruncBits: 128}}
	}
	return &engine.Bundle{
		ID: id, ReqID: 7, Mode: engine.ModeTunnel, Local: gwA, Remote: gwB,
		Selector: engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")},
		Lifetime: engine.Lifetime{SoftSeconds: 3000, HardSeconds: 3600},
		Inbound:  []engine.SA{sa(in, 0xa0)},
		Outbound: []engine.SA{sa(out, 0xb0)},
	}
}
