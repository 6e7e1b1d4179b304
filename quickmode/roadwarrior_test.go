package quickmode_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/stack/stacktest"
)

// TestRoadWarriorSelectorLimits: B is a road warrior gateway (tunnel, no
// remote-gw) in front of 198.51.100.0/24; A, authenticated with the
// gateway's key, proposes its own side of the tunnel as its selector.
// Without remote-address B accepts only A's own address; with
// remote-address the range is the ceiling; never a selector overlapping
// B's local-address. A refused proposal gets message 54 (and a Quick Mode
// failure, INVALID-ID-INFORMATION to A), and no SA is installed.
func TestRoadWarriorSelectorLimits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gwRemote   string // B's remote-address ("-": none)
		proposal   string // A's local-address: its remote selector at B
		accepted   bool
		reasonPart string
	}{
		{"own-address", "-", stacktest.HostA, true, ""},
		{"foreign-subnet", "-", "10.0.0.0/8", false, "no remote-address"},
		{"half-the-internet", "-", "0.0.0.0/1", false, "no remote-address"},
		{"everything", "-", "0.0.0.0/0", false, ""},
		{"gateway-lan", "-", "198.51.100.0/25", false, "overlaps the local-address"},
		{"other-host", "-", "203.0.113.7", false, "no remote-address"},
		{"within-ceiling", "203.0.0.0/16", "203.0.113.0/24", true, ""},
		{"beyond-ceiling", "203.0.113.0/24", "203.0.0.0/16", false, ""},
		{"ceiling-overlaps-lan", "198.51.0.0/16", "198.51.100.128/25", false, "overlaps the local-address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: tc.gwRemote}
				client := stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: tc.proposal, RemoteAddress: "198.51.100.0/24"}
				a, b := stacktest.Pair(t, client, stacktest.Options{Net: nw}, gw, stacktest.Options{Net: nw})
				if tc.accepted {
					b.WaitSAs(t, 2, 10*time.Second)
					return
				}
				b.WaitRecord(t, "", 54, 10*time.Second)
				time.Sleep(5 * time.Second)
				if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
					t.Errorf("%d IPsec SAs installed for a refused selector", n)
				}
				if len(b.Records(t, "", 57))+len(b.Records(t, "", 58)) == 0 {
					t.Errorf("no Quick Mode failure (57/58) logged\n%s", b.Log.String())
				}
				if tc.reasonPart != "" && !strings.Contains(b.Log.String(), tc.reasonPart) {
					t.Errorf("the log does not say why (%q):\n%s", tc.reasonPart, b.Log.String())
				}
			})
		})
	}
}
