package interop

import (
	"strings"
	"testing"
	"time"
)

// TestIkedRoadWarriorSelectors: iked is a road warrior gateway (no
// remote-gw, no remote-address) in front of 203.0.113.128/25, and
// strongSwan, authenticated with the right key, asks in Quick Mode for
// tunnels whose remote side (strongSwan's local_ts) is a wide foreign
// subnet, a part of iked's own network, and finally its own address. iked
// refuses the first two with message 54 (strongSwan hears
// INVALID-ID-INFORMATION) and accepts the last (docs/policy-file.md, Road
// warrior selectors).
func TestIkedRoadWarriorSelectors(t *testing.T) {
	RequireStrongSwan(t)
	t.Parallel()
	p := NewPair(t)
	swan, ike := p.A, p.B
	psk := randomPSK()
	// qmIkedPolicy's road warrior gateway, without its remote-address.
	iked := startIkedYAML(t, ike.NS, func(sock string) string {
		pol := qmIkedPolicy(ike.Addr.String(), swan.Addr.String(), sock, psk, qmCases[0], "never", "1h", true, "none")
		return strings.Replace(pol, "    remote-address: 203.0.113.0/25\n", "", 1)
	})
	children := []Child{
		{Name: "wide", LocalTS: "10.0.0.0/8", RemoteTS: "203.0.113.128/25", ESPProposals: qmCases[0].swanESP},
		{Name: "lan", LocalTS: "203.0.113.192/26", RemoteTS: "203.0.113.128/25", ESPProposals: qmCases[0].swanESP},
		{Name: "own", LocalTS: swan.Addr.String() + "/32", RemoteTS: "203.0.113.128/25", ESPProposals: qmCases[0].swanESP},
	}
	c := StartCharon(t, swan.NS, CharonOptions{
		LibIPsec: true, RetransmitTimeout: time.Second, RetransmitTries: 3,
		Connections: []Connection{{
			LocalAddrs: swan.Addr.String(), RemoteAddrs: ike.Addr.String(), Proposals: "aes128-sha256-modp2048",
			LocalID: swan.Addr.String(), RemoteID: ike.Addr.String(), Children: children,
		}},
		Secrets: []Secret{{IDs: []string{swan.Addr.String(), ike.Addr.String()}, PSK: []byte(psk)}},
	})
	for _, tc := range []struct{ child, ts, why string }{
		{"wide", "10.0.0.0/8", "has no remote-address"},
		{"lan", "203.0.113.192/26", "overlaps the local-address"},
	} {
		if err := c.Initiate(tc.child, 15*time.Second); err == nil {
			t.Errorf("strongSwan's child %s (local_ts %s) was accepted", tc.child, tc.ts)
		}
		if _, err := iked.WaitCatalog(54, 5*time.Second, tc.ts); err != nil {
			t.Error(err)
		}
		if _, err := iked.WaitCatalog(0, 5*time.Second, "Quick Mode selectors refused", tc.ts, tc.why); err != nil {
			t.Error(err)
		}
	}
	waitLog(t, c, "received INVALID_ID_INFORMATION error notify", 5*time.Second)
	if err := c.Initiate("own", 20*time.Second); err != nil {
		t.Fatalf("strongSwan's child for its own address: %v\niked:\n%s", err, iked.catalogSummary())
	}
}
