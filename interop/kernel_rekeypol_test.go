package interop

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKernelRekeyKeepsPolicies: iked against iked, both with the xfrm
// engine, on a connection without trap policies (initiate never: each
// bundle installs its own), with a 20 s lifetime and a ping at 10/s for
// 40 s or more, across several Quick Mode rekeys: by the first Quick Mode's
// initiator, and by its responder (a rekey margin makes its soft lifetime
// come first). Meanwhile `ip xfrm monitor policy` on both hosts must see
// no policy deleted (a rekey replaces in place or changes nothing), both
// kernels must hold the connection's three policies (out, in, fwd) at
// every sample (as often as `ip xfrm policy` runs in the emulated VM,
// about one pair a second), and no frame of the protected subnets crosses
// the link in clear. The lost pings are reported.
func TestKernelRekeyKeepsPolicies(t *testing.T) {
	requireKernel(t)
	for _, tc := range []struct {
		name       string
		extraB     string
		rekeyedByB bool
	}{
		{name: "initiator-rekeys"},
		{name: "responder-rekeys", extraB: "    rekey: {margin: 12s}\n", rekeyedByB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := "did not come up"
			defer func() { report(t, "rekey-policies/"+tc.name, line) }()
			s := newKernelSetup(t, kernelCase{name: tc.name, qm: qmESPCBC, chain: "[esp]", pfs: "none"})
			m := s.mirror()
			m.iked = startIkedYAML(t, m.ike.NS, func(sock string) string { return m.policy(sock, "never", "20s", tc.extraB) })
			s.iked = startIkedYAML(t, s.ike.NS, func(sock string) string { return s.policy(sock, "never", "20s", "") })
			if err := s.iked.Initiate("peer"); err != nil {
				t.Fatalf("ikectl initiate: %v\n%s", err, s.iked.catalogSummary())
			}
			if _, err := s.waitIkedSAs(2, 30*time.Second); err != nil {
				t.Fatalf("%v\nresponder:\n%s", err, m.iked.catalogSummary())
			}
			if _, err := m.waitIkedSAs(2, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			monA := s.ike.NS.Start(t, nil, "ip", "xfrm", "monitor", "policy")
			monB := m.ike.NS.Start(t, nil, "ip", "xfrm", "monitor", "policy")
			capt, err := s.ike.NS.StartCapture(s.ike.Link)
			if err != nil {
				t.Fatal(err)
			}
			var sent, got int
			var pingErr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Batches of 100, each well within Namespace.Run's 60 s
				// even when the emulated VM runs ping slowly.
				for start := time.Now(); time.Since(start) < 40*time.Second && pingErr == nil; {
					n, ok, err := s.ike.Ping(s.ikeIn, s.swanIn, 100, 100*time.Millisecond)
					sent, got, pingErr = sent+n, got+ok, err
				}
			}()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			samples, short := 0, map[string]int{}
			fewest := map[string]int{s.ike.NS.Name: 3, m.ike.NS.Name: 3}
		sample:
			for {
				select {
				case <-done:
					break sample
				case <-time.After(100 * time.Millisecond):
				}
				samples++
				for _, ns := range []*Namespace{s.ike.NS, m.ike.NS} {
					out, err := ns.Run("ip", "xfrm", "policy")
					if err != nil {
						t.Fatal(err)
					}
					if n := strings.Count(out, "proto esp reqid"); n != 3 {
						short[ns.Name]++
						fewest[ns.Name] = min(fewest[ns.Name], n)
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
			if err := capt.Stop(""); err != nil {
				t.Error(err)
			}
			wire, clear := capt.Counts()
			monA.Stop(time.Second)
			monB.Stop(time.Second)
			deleted := strings.Count(monA.Output(), "Deleted ") + strings.Count(monB.Output(), "Deleted ")
			if pingErr != nil {
				t.Error(pingErr)
			}
			rekeys := func(k *Iked) int {
				n := 0
				for _, l := range k.Lines() {
					if l.Msg == "IPsec SA rekeyed: the old bundle is deleted" {
						n++
					}
				}
				return n
			}
			ra, rb := rekeys(s.iked), rekeys(m.iked)
			line = fmt.Sprintf("rekeys by A %d by B %d; ping %d/%d, lost %d; policies deleted %d; policy samples %d, without the 3 policies: %v (fewest %v); wire esp %d clear %d",
				ra, rb, got, sent, sent-got, deleted, samples, short, fewest, wire["esp"], wire["clear"])
			// Why pings were lost, in the kernels' words (XfrmInNoStates: an
			// ESP packet for an SA not yet or no longer installed).
			for _, ns := range []*Namespace{s.ike.NS, m.ike.NS} {
				xs, _ := ns.Run("cat", "/proc/net/xfrm_stat")
				line += fmt.Sprintf("; %s xfrm_stat [%s]", ns.Name, strings.Join(strings.Fields(nonZero(xs)), " "))
			}
			if deleted != 0 {
				t.Errorf("a rekey deleted kernel policies: %s\nA's monitor:\n%s\nB's monitor:\n%s", line, monA.Output(), monB.Output())
			}
			if len(short) != 0 {
				t.Errorf("a kernel lacked the connection's policies: %s\nA:\n%s\nB:\n%s", line, s.iked.catalogSummary(), m.iked.catalogSummary())
			}
			if wire["clear"] != 0 {
				t.Errorf("%d frames crossed the link in clear, first: %q", wire["clear"], clear)
			}
			if tc.rekeyedByB && rb < 2 || !tc.rekeyedByB && ra < 2 {
				t.Errorf("too few rekeys by the expected side: %s", line)
			}
			if sent == 0 || sent-got > sent/20 {
				t.Errorf("pings lost: %s", line)
			}
		})
	}
}
