package daemon_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// startNode starts a daemon with the production wiring on the host's
// loopback sockets, its control socket open.
func startNode(t *testing.T, local, remote string, port int, mode string) *stacktest.Node {
	t.Helper()
	return stacktest.Start(t, stacktest.Policy{Local: local, Remote: remote, IKEPort: port, Mode: mode,
		PSK: "loopback test key"}, stacktest.Options{})
}

// TestLoopbackPhase1 runs two daemons over loopback with the real phase 1
// and the real policy loader: one initiates through the control socket,
// both end with the same established ISAKMP SA, and each exchange was
// answered by the event loop, the worker pool and the sockets of this
// package.
func TestLoopbackPhase1(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback end to end in -short mode")
	}
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			port := 20000 + rand.IntN(20000)
			a := startNode(t, "127.0.0.1", "127.0.0.2", port, mode)
			b := startNode(t, "127.0.0.2", "127.0.0.1", port, mode)
			a.Ctl(t, control.CmdInitiate, "link")
			var sa, sb []control.SA
			deadline := time.Now().Add(10 * time.Second)
			for {
				sa = a.Ctl(t, control.CmdListSAs, "").SAs
				sb = b.Ctl(t, control.CmdListSAs, "").SAs
				if len(sa) == 1 && len(sb) == 1 && sa[0].Established && sb[0].Established {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not established: a %+v, b %+v\na:\n%s\nb:\n%s", sa, sb, a.Log.String(), b.Log.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if sa[0].ICookie != sb[0].ICookie || sa[0].RCookie != sb[0].RCookie {
				t.Errorf("cookies differ: %s:%s and %s:%s", sa[0].ICookie, sa[0].RCookie, sb[0].ICookie, sb[0].RCookie)
			}
			if sa[0].Role != "initiator" || sb[0].Role != "responder" || sa[0].Conn != "link" || sb[0].Conn != "link" {
				t.Errorf("roles or connections: %+v / %+v", sa[0], sb[0])
			}
			if st := b.Ctl(t, control.CmdStatus, "").Status; st.HalfOpen != 0 || st.Established != 1 {
				t.Errorf("responder status: half-open %d, established %d", st.HalfOpen, st.Established)
			}
			for _, n := range []*stacktest.Node{a, b} {
				if strings.Contains(n.Log.String(), "loopback test key") {
					t.Error("the PSK reached the log")
				}
			}
		})
	}
}
