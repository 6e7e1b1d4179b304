package quickmode

import (
	"testing"

	"github.com/iked/iked/policymgr"
)

// quickMode runs one Quick Mode initiated by a on connection "c" with
// message ID mid and answered by b, as runQM does (every Work run and
// every engine request answered at once) but without recording datagrams
// for tshark, so that an iteration costs only the exchange and the two
// memory engines. It reports whether both sides got their Child.
func quickMode(a, b *qmPeer, conn *policymgr.Connection, mid uint32) bool {
	a.x, b.x, a.child, b.child, a.failed, b.failed, a.log, b.log = nil, nil, nil, nil, false, false, nil, nil
	x, st, err := NewInitiator(a.env(), a.cfg, a.p1, conn, mid)
	if err != nil {
		return false
	}
	a.x = x
	rejected := false
	converse(a, b, st, nil, nil, func(error) { rejected = true })
	return !rejected && !a.failed && !b.failed && a.child != nil && b.child != nil
}

// BenchmarkQuickMode is one whole Quick Mode (RFC 2409, 5.5) between two
// established ISAKMP SAs, both sides and both memory engines (SPI
// allocation, the install of four ESP SAs) in one goroutine: without PFS,
// and with PFS in group 19 (ECP 256, RFC 5903), which adds a DH key pair
// and a shared secret on each side. Each iteration uses a new message ID
// on the same ISAKMP SAs; the engines are replaced every few thousand
// iterations (outside the timer) so that their SA tables stay small.
func BenchmarkQuickMode(b *testing.B) {
	for _, c := range []struct{ name, pfs string }{{"nopfs", "none"}, {"pfs-group19", "ecp256"}} {
		b.Run(c.name, func(b *testing.B) {
			s := qmSide{pfs: c.pfs}
			sa, sb := s, s
			sa.self, sb.self = "a", "b"
			pa, pb := loadPolicy(b, sa), loadPolicy(b, sb)
			p1a, p1b, _ := establish(b, pa, pb, gwA, gwB)
			conn, _ := pa.Connection("c")
			a, r := newPeer(b, "A", p1a, pa), newPeer(b, "B", p1b, pb)
			mid := uint32(0x10000000)
			if !quickMode(a, r, conn, mid) {
				b.Fatalf("Quick Mode does not complete:\n%s%s", a.logText(), r.logText())
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if n++; n%4096 == 0 {
					b.StopTimer()
					a, r = newPeer(b, "A", p1a, pa), newPeer(b, "B", p1b, pb)
					b.StartTimer()
				}
				mid++
				if !quickMode(a, r, conn, mid) {
					b.Fatalf("Quick Mode %#x did not complete:\n%s%s", mid, a.logText(), r.logText())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		})
	}
}
