package interop

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestKernelUnmatched: scenario 11 (interop/README.md), message 7. iked runs with
// daemon.log-unmatched; charon's host sends one flow of the protected
// range in clear (a bypass policy of higher priority than charon's lets
// UDP to port 9999 leave without ESP). iked's table inet iked drops it
// and iked logs message 7 once for the flow (rate limit), while the
// ping through the tunnel still flows; at stop the table is gone.
func TestKernelUnmatched(t *testing.T) {
	line := kernelScenario(t, "11/log-unmatched")
	s := newInitiatorSetup(t)
	s.ikedPolicy = func(sock string) string {
		return strings.Replace(s.policy(sock, "never", "66m", ""), "daemon:\n", "daemon:\n  log-unmatched: true\n", 1)
	}
	before := kernelState(t, s.ike.NS)
	s.start(t)

	s.swan.NS.MustRun("ip", "xfrm", "policy", "add", "src", s.swanIn.String(), "dst", s.ikeIn.String(),
		"proto", "udp", "dport", "9999", "dir", "out", "priority", "1")
	const clear = 5
	if err := s.swan.NS.Do(func() error {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: s.swanIn.AsSlice(), Port: 4321}, &net.UDPAddr{IP: s.ikeIn.AsSlice(), Port: 9999})
		if err != nil {
			return err
		}
		defer c.Close()
		for range clear {
			if _, err := c.Write([]byte("in clear")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sent, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 10, 100*time.Millisecond)
	if err != nil || got == 0 {
		t.Errorf("ping through the tunnel: %d/%d, %v", got, sent, err)
	}
	want := fmt.Sprintf("Dropping IPv4 packet %s->%s udp:4321->9999", s.swanIn, s.ikeIn)
	var n7 int
	deadline := time.Now().Add(5 * time.Second)
	for n7 == 0 && time.Now().Before(deadline) {
		n7 = 0
		for _, l := range s.iked.Lines() {
			if l.Catalog == 7 {
				if l.Msg != want {
					t.Errorf("message 7 %q, want %q", l.Msg, want)
				}
				n7++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n7 != 1 {
		t.Errorf("%d lines of message 7 for %d packets of one flow, want 1:\n%s", n7, clear, s.iked.catalogSummary())
	}
	table := s.ike.NS.MustRun("nft", "list", "table", "inet", "iked")
	if !strings.Contains(table, fmt.Sprintf("counter packets %d ", clear)) {
		t.Errorf("the drop rule did not count %d packets:\n%s", clear, table)
	}
	s.swan.NS.MustRun("ip", "xfrm", "policy", "del", "src", s.swanIn.String(), "dst", s.ikeIn.String(),
		"proto", "udp", "dport", "9999", "dir", "out")
	s.stopIked(t, before)
	if out, err := s.ike.NS.Run("nft", "list", "table", "inet", "iked"); err == nil {
		t.Errorf("the table is still there after iked stopped:\n%s", out)
	}
	*line = fmt.Sprintf("%d UDP packets in clear: %d message 7 line(s), dropped by the table; ping through the tunnel %d/%d", clear, n7, got, sent)
}
