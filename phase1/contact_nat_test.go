package phase1_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/stack/stacktest"
)

// TestInitialContactBehindOneNAT: two clients behind one NAT share the
// public address and a group identity (fqdn:client.example, one
// pre-shared key) and differ only in their NAT ports. Each sends
// INITIAL-CONTACT in phase 1 (it holds no SA with the gateway), and the
// gateway must not take the second one's for a restart of the first: the
// stale SAs are those of the same identity at the same address and port
// (StaleSAs). When the first client does restart (same inside address,
// so the same NAT mapping), its INITIAL-CONTACT still clears its own
// stale SA, and only that one.
func TestInitialContactBehindOneNAT(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			pa, pb := lifePolicies(mode, "", "", true)
			pa.LocalID = "fqdn:client.example"
			pc := pa
			addrC := netip.MustParseAddrPort("192.0.2.3:500")
			pc.Local = addrC.Addr().String()
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				nw.NAT(addrA.Addr(), natPublic)
				nw.NAT(addrC.Addr(), natPublic)
				gw := start(t, nw, pb, nodeOpts{natt: true})
				ca := start(t, nw, pa, nodeOpts{natt: true, initiate: true})
				waitEstablished(t, ca, gw, 1)
				first := gw.rec.established()[0]
				start(t, nw, pc, nodeOpts{natt: true, initiate: true})
				waitCount(t, gw, 2)
				second := gw.rec.established()[1]
				gw.rec.mu.Lock()
				ic1, ic2 := gw.rec.ic[first], gw.rec.ic[second]
				r1, r2 := gw.rec.remote[first], gw.rec.remote[second]
				gw.rec.mu.Unlock()
				if !ic1 || !ic2 {
					t.Fatalf("INITIAL-CONTACT in phase 1: first client %v, second %v", ic1, ic2)
				}
				if r1.Addr() != natPublic || r2.Addr() != natPublic || r1 == r2 {
					t.Fatalf("the clients are at %v and %v, want two ports of %v", r1, r2, natPublic)
				}
				time.Sleep(time.Second)
				if why, _, gone := gw.rec.reason(first); gone {
					t.Fatalf("the second client's INITIAL-CONTACT removed the first client's SA (%v)\n%s", why, gw.Log.String())
				}
				// The first client restarts without a word: its new
				// INITIAL-CONTACT clears its stale SA, not the other's.
				nw.Silence(addrA.Addr(), true)
				ca.Daemon.Stop()
				nw.Silence(addrA.Addr(), false)
				start(t, nw, pa, nodeOpts{natt: true, initiate: true})
				waitCount(t, gw, 3)
				time.Sleep(time.Second)
				if why, _, gone := gw.rec.reason(first); !gone || why != daemon.RemoveStale {
					t.Errorf("after the first client's restart its old SA: gone=%v reason %v", gone, why)
				}
				if why, _, gone := gw.rec.reason(second); gone {
					t.Errorf("the first client's restart removed the second client's SA (%v)", why)
				}
			})
		})
	}
}

// waitCount lets virtual time run until n established k SAs in all.
func waitCount(t *testing.T, n *node, k int) {
	t.Helper()
	for i := 0; i < 600 && len(n.rec.established()) < k; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if got := len(n.rec.established()); got < k {
		t.Fatalf("%d SAs established, want %d\n%s", got, k, n.Log.String())
	}
}
