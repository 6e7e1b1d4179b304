package main

import (
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/stack/stacktest"
)

// The IPsec SAs go with an ISAKMP SA that DPD declares dead or that
// INITIAL-CONTACT makes stale (wiring_test.go says how the tests run).

// TestWiringDeadPeerTakesChildSAs: A initiates phase 1 and Quick Mode with
// B (both engines hold the inbound and outbound ESP SA). B falls silent:
// A's DPD declares it dead and A's engine no longer holds the IPsec SAs of
// that ISAKMP SA.
func TestWiringDeadPeerTakesChildSAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		a, _ := upPair(t, nw, childOpts{}, childOpts{})
		nw.Silence(netip.MustParseAddr("192.0.2.2"), true)
		time.Sleep(45 * time.Second)
		if n := len(a.Engine.SAs()); n != 0 {
			t.Fatalf("A's engine still holds %d IPsec SAs after its peer died\n%s", n, a.Log.String())
		}
		if !strings.Contains(a.Log.String(), `"reason":"dead peer"`) {
			t.Errorf("A's log:\n%s", a.Log.String())
		}
	})
}

// TestWiringInitialContactTakesChildSAs: A negotiates phase 1 and Quick
// Mode with B, crashes (nothing it says on the way down arrives) and
// negotiates again. Its INITIAL-CONTACT makes B drop the stale ISAKMP SA
// and its IPsec SAs: B's engine holds only the new pair.
func TestWiringInitialContactTakesChildSAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		a1, b := upPair(t, nw, childOpts{}, childOpts{})
		old := b.Engine.SAs()
		nw.Silence(netip.MustParseAddr("192.0.2.1"), true)
		a1.Daemon.Stop()
		nw.Silence(netip.MustParseAddr("192.0.2.1"), false)
		a2 := startChildNode(t, nw, stacktest.HostA, stacktest.HostB, "start", childOpts{})
		a2.WaitSAs(t, 2, 30*time.Second)
		b.WaitSAs(t, 2, 5*time.Second)
		for _, o := range old {
			for _, n := range b.Engine.SAs() {
				if o.SA.SPI == n.SA.SPI {
					t.Errorf("B kept the stale IPsec SA %s", o.SA)
				}
			}
		}
		if !strings.Contains(b.Log.String(), `"reason":"stale (INITIAL-CONTACT)"`) {
			t.Errorf("B's log:\n%s", b.Log.String())
		}
	})
}
