package quickmode_test

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// TestLostQuickModeMessages: QM2 lost once (QM1 or QM2 is retransmitted;
// a retransmitted QM1 is answered from the cache, never consumed twice),
// and QM3 lost once (the responder retransmits QM2, the initiator's
// finished exchange answers with its cached QM3): both sides install.
func TestLostQuickModeMessages(t *testing.T) {
	for _, lose := range []string{"QM2", "QM3"} {
		t.Run(lose, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				a := netip.MustParseAddrPort("192.0.2.1:500")
				var mu sync.Mutex
				qmFromA, qmFromB, lost := 0, 0, 0
				nw.SetDrop(func(s daemontest.Sent) bool {
					h, err := isakmp.ParseHeader(s.Data)
					if err != nil || h.Exchange != isakmp.ExchangeQuickMode {
						return false
					}
					mu.Lock()
					defer mu.Unlock()
					if s.From == a {
						qmFromA++
						if lose == "QM3" && qmFromA == 2 {
							lost++
							return true
						}
					} else {
						qmFromB++
						if lose == "QM2" && qmFromB == 1 {
							lost++
							return true
						}
					}
					return false
				})
				p := stacktest.Policy{Local: "192.0.2.2", Remote: "192.0.2.1", Retransmit: "{timeout: 200ms, tries: 5}",
					ESP: "ciphers: [aes128], hmacs: [sha1]", PFS: "ecp256"}
				nb := stacktest.Start(t, p, stacktest.Options{Net: nw})
				p.Local, p.Remote, p.Initiate = "192.0.2.1", "192.0.2.2", "start"
				na := stacktest.Start(t, p, stacktest.Options{Net: nw})
				da, db := na.Daemon, nb.Daemon
				// The responder logs its bundle once the engine has answered,
				// which may come after the SAs are in the engine.
				stacktest.Wait(t, 10*time.Second, "both bundles installed and the responder's logged", func() bool {
					return len(na.Engine.SAs()) == 2 && len(nb.Engine.SAs()) == 2 &&
						strings.Contains(nb.Log.String(), `"msg":"IPsec SA established"`)
				}, na, nb)
				mu.Lock()
				defer mu.Unlock()
				// A second Quick Mode of B's on the retransmitted QM1 would
				// hold an SPI of its own (or a second bundle).
				started := strings.Count(nb.Log.String(), `"msg":"IPsec SA established"`)
				if lost != 1 || started != 1 || nb.Engine.Reserved() != 0 {
					t.Errorf("lost %d, responder established %d Quick Modes and holds %d SPIs more", lost, started, nb.Engine.Reserved())
				}
				if da.Counters.Retransmits.Load()+db.Counters.Retransmits.Load() == 0 {
					t.Error("nothing was retransmitted")
				}
				// With QM2 lost, either the initiator's QM1 or the responder's
				// QM2 is retransmitted first; with QM3 lost only the cache of
				// the initiator's finished exchange can answer.
				if lose == "QM3" && da.Counters.CachedReplies.Load() == 0 {
					t.Error("the initiator sent no cached QM3")
				}
			})
		})
	}
}

// TestCopyOfLastMessageIsNotAnswered: a copy of an exchange's last message
// (QM3 at the responder, MM6 at the initiator, as a NAT or a delayed
// retransmission may deliver twice) is dropped, not answered with the
// message before it: the peer would answer that from its own cache, and
// the two would send each other the pair for ever.
func TestCopyOfLastMessageIsNotAnswered(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
		p := stacktest.Policy{Local: "192.0.2.2", Remote: "192.0.2.1"}
		nb := stacktest.Start(t, p, stacktest.Options{Net: nw})
		p.Local, p.Remote, p.Initiate = "192.0.2.1", "192.0.2.2", "start"
		na := stacktest.Start(t, p, stacktest.Options{Net: nw})
		na.WaitSAs(t, 2, 10*time.Second)
		nb.WaitSAs(t, 2, 10*time.Second)
		last := func(from netip.AddrPort, ex isakmp.ExchangeType) []byte {
			var out []byte
			for _, s := range nw.Sent() {
				if h, err := isakmp.ParseHeader(s.Data); err == nil && s.From == from && h.Exchange == ex {
					out = s.Data
				}
			}
			if out == nil {
				t.Fatalf("no %s message from %s", ex, from)
			}
			return out
		}
		qm3, mm6 := last(a, isakmp.ExchangeQuickMode), last(b, isakmp.ExchangeMain)
		before := len(nw.Sent())
		for i := 0; i < 3; i++ {
			if err := nw.Inject(a, b, qm3); err != nil {
				t.Fatal(err)
			}
			if err := nw.Inject(b, a, mm6); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second)
		if n := len(nw.Sent()) - before; n != 6 {
			t.Errorf("%d datagrams after the 6 copies: a copy of a last message was answered", n-6)
		}
		for _, n := range []*stacktest.Node{na, nb} {
			if got := n.Daemon.Counters.Dropped(daemon.DropReplay); got != 3 {
				t.Errorf("%d copies dropped as replays, want 3", got)
			}
		}
	})
}
