package xfrm

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/iked/iked/engine"
)

// BenchmarkListCounters: what ikectl list-sas pays the kernel for the
// byte counters of 10,000 SAs (larval ones here: this benchmark needs
// root, not ESP), asked one XFRM_MSG_GETSA per SA (Bytes, what the loop
// did for every listing before stack.Counters) or taken in one dump
// (ByteCounts) and looked up. ns/op is one whole listing's.
//
//	go test -run '^$' -bench ListCounters -benchtime 10x ./engine/xfrm/
func BenchmarkListCounters(b *testing.B) {
	const n = 10000
	_, h := testNS(b)
	be := openIn(b, h)
	src := netip.MustParseAddr("192.0.2.2")
	dst := netip.MustParseAddr("198.51.100.0")
	refs := make([]engine.SARef, 0, n)
	for range n {
		dst = dst.Next()
		if dst.As4()[3] == 0 {
			dst = dst.Next()
		}
		spi, err := be.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: src, Dst: dst, ReqID: 9})
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, engine.SARef{Protocol: engine.ProtoESP, SPI: spi, Src: src, Dst: dst})
	}
	count := func(b *testing.B, f func(engine.SARef) (uint64, bool)) {
		for _, r := range refs {
			if _, ok := f(r); !ok {
				b.Fatalf("no counter for %v", r)
			}
		}
	}
	b.Run(fmt.Sprintf("Bytes/%d", n), func(b *testing.B) {
		for b.Loop() {
			count(b, be.Bytes)
		}
	})
	b.Run(fmt.Sprintf("ByteCounts/%d", n), func(b *testing.B) {
		for b.Loop() {
			f, err := be.ByteCounts()
			if err != nil {
				b.Fatal(err)
			}
			count(b, f)
		}
	})
}
