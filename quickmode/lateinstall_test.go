package quickmode_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/stack/stacktest"
)

// TestLateInstallRolledBack: the engine of one host takes a minute to
// install a Quick Mode's bundle; meanwhile the peer falls silent and DPD
// removes the ISAKMP SA. The bundle and its policies, installed after
// the negotiation ended, are removed at once with a warning, instead of
// staying in the kernel untracked ("engine event for nobody"). As the
// Quick Mode initiator and as the responder; with the bundle late, and
// with the bundle in but its policies late (the bundle then waited for
// them when the ISAKMP SA went). In virtual time.
func TestLateInstallRolledBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		slow int // 0: A, the initiator; 1: B
		// policiesLate: the bundle goes in at once, its policies late.
		policiesLate bool
	}{{"initiator", 0, false}, {"responder", 1, false}, {"initiator policies late", 0, true}, {"responder policies late", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				p := stacktest.Policy{DPD: "{delay: 10s, timeout: 30s}"}
				opts := []stacktest.Options{{Net: nw}, {Net: nw}}
				opts[tc.slow].Engine = memory.Options{InstallDelay: time.Minute}
				if tc.policiesLate {
					opts[tc.slow].Engine = memory.Options{PolicyDelay: time.Minute}
				}
				a, b := stacktest.Pair(t, p, opts[0], p, opts[1])
				nodes := []*stacktest.Node{a, b}
				slow, peer := nodes[tc.slow], nodes[1-tc.slow]
				a.Ctl(t, control.CmdInitiate, "link")
				peer.WaitRecord(t, "IPsec SA established", 0, 10*time.Second)
				nw.Silence(netip.MustParseAddr(map[int]string{0: stacktest.HostB, 1: stacktest.HostA}[tc.slow]), true)
				slow.WaitRecord(t, "ISAKMP SA removed", 0, 50*time.Second)
				if len(slow.Records(t, "IPsec SA established", 0)) != 0 {
					t.Fatalf("the install ended before DPD removed the ISAKMP SA")
				}
				rec := slow.WaitRecord(t, "IPsec SA bundle installed after its negotiation ended: removed", 0, 2*time.Minute)
				if rec[0]["reason"] != "the ISAKMP SA is gone" {
					t.Errorf("rollback: %v", rec[0])
				}
				slow.WaitRecord(t, "kernel policies installed after their negotiation ended: removed", 0, 2*time.Minute)
				stacktest.Wait(t, time.Second, "the late bundle removed", func() bool {
					return len(slow.Engine.SAs()) == 0 && len(slow.Engine.Policies()) == 0 && slow.Engine.Reserved() == 0
				}, slow)
				for _, msg := range []string{"IPsec SA established", "engine request failed"} {
					if r := slow.Records(t, msg, 0); len(r) != 0 {
						t.Errorf("%s: %v", msg, r)
					}
				}
				for _, r := range slow.Records(t, "engine event for nobody", 0) {
					if ev, _ := r["event"].(string); strings.HasPrefix(ev, "installed") || strings.HasPrefix(ev, "policies-installed") {
						t.Errorf("an installation nobody took: %v", r)
					}
				}
			})
		})
	}
}
