package phase1_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// TestResponderKeepsMode: a connection answers only the mode its ike.mode
// names (docs/policy-file.md). An Aggressive Mode AM1 for a `mode: main`
// connection gets NO-PROPOSAL-CHOSEN in the clear (messages 46 and 52)
// and nothing else: no KE, no HASH_R (the material of an offline
// dictionary attack on the pre-shared key), and no work for the worker
// pool (no DH). Likewise Main Mode for a `mode: aggressive` connection.
func TestResponderKeepsMode(t *testing.T) {
	for _, tc := range []struct{ initiator, responder string }{
		{"aggressive", "main"},
		{"main", "aggressive"},
	} {
		t.Run(tc.initiator+"-to-"+tc.responder, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				a, b := stacktest.Pair(t,
					stacktest.Policy{Mode: tc.initiator, Initiate: "start"}, stacktest.Options{Net: nw},
					stacktest.Policy{Mode: tc.responder}, stacktest.Options{Net: nw})
				b.WaitRecord(t, "", 52, 10*time.Second)
				time.Sleep(5 * time.Second)
				if n := len(b.Records(t, "", 46)); n == 0 {
					t.Errorf("responder logged no message 46\n%s", b.Log.String())
				}
				if w := b.Daemon.Counters.WorkDone.Load(); w != 0 {
					t.Errorf("responder ran %d worker pool jobs, want none", w)
				}
				hostB := netip.MustParseAddr(stacktest.HostB)
				from := 0
				for _, s := range nw.Sent() {
					if s.From.Addr() != hostB {
						continue
					}
					from++
					m, err := isakmp.Decode(s.Data)
					if err != nil {
						t.Fatalf("responder sent an undecodable datagram: %v", err)
					}
					if m.Header.Exchange != isakmp.ExchangeInformational {
						t.Errorf("responder answered with a %s message", m.Header.Exchange)
					}
					for _, p := range m.Payloads {
						switch p := p.(type) {
						case *isakmp.Notification:
							if p.NotifyType != isakmp.NoProposalChosen {
								t.Errorf("responder sent notify %s", p.NotifyType)
							}
						default:
							t.Errorf("responder sent a %s payload", p.Type())
						}
					}
				}
				if from == 0 {
					t.Errorf("responder sent nothing")
				}
				if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
					t.Errorf("%d IPsec SAs installed", n)
				}
			})
		})
	}
}
