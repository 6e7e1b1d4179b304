package quickmode_test

import (
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// TestRekeyMargin: with `rekey: {margin: 10m, jitter: 5m}` and a 1 h
// lifetime, each side's SAs report their soft lifetime (the rekey) 10 to
// 15 minutes before the hard one, whatever the role, and the jitter spreads
// the bundles; the SA is rekeyed there, before the hard lifetime. Without
// the key the initiator rekeys a tenth before (quickmode/keys.go).
func TestRekeyMargin(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		p := stacktest.Policy{Phase2LifetimeMin: "1s", Lifetime: "1h", Rekey: "{margin: 10m, jitter: 5m}"}
		a, b := stacktest.Pair(t, p, stacktest.Options{Net: nw}, p, stacktest.Options{Net: nw})
		softs := map[uint64]bool{}
		for range 8 {
			a.Ctl(t, control.CmdInitiate, "link")
			time.Sleep(5 * time.Second)
		}
		for _, n := range []*stacktest.Node{a, b} {
			recs := n.Engine.SAs()
			if len(recs) < 8 {
				t.Fatalf("%d SAs installed", len(recs))
			}
			for _, r := range recs {
				if r.Lifetime.HardSeconds != 3600 || r.Lifetime.SoftSeconds < 2700 || r.Lifetime.SoftSeconds > 3000 {
					t.Errorf("lifetime %+v, want soft 2700-3000 of 3600", r.Lifetime)
				}
				softs[r.Lifetime.SoftSeconds] = true
			}
		}
		if len(softs) < 3 {
			t.Errorf("the jitter gave %d distinct soft lifetimes over %d bundles", len(softs), 8*2)
		}
		before := len(a.Records(t, "IPsec SA rekeyed: the old bundle is deleted", 0)) +
			len(b.Records(t, "IPsec SA rekeyed: the old bundle is deleted", 0))
		time.Sleep(51 * time.Minute)
		after := len(a.Records(t, "IPsec SA rekeyed: the old bundle is deleted", 0)) +
			len(b.Records(t, "IPsec SA rekeyed: the old bundle is deleted", 0))
		if before != 0 || after < 8 {
			t.Errorf("rekeys: %d before 45 min, %d by 51 min; want 0 and at least 8", before, after)
		}
	})
}
