package interop

import (
	"fmt"
	"testing"
	"time"
)

// Scenario 5: rekey and reauthentication under a steady ping (10 per
// second from iked's side, answered through the inbound SA): the new SAs
// take over, the old go, the kernel policies stay in force throughout
// (nothing in clear) and the figures say how many pings were lost.

// kernelSPIs are the SPIs of iked's kernel SAs, as a set of "proto spi".
func (s *kernelSetup) kernelSPIs(t *testing.T) map[string]bool {
	t.Helper()
	sas, err := s.ike.NS.XfrmStates()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, sa := range sas {
		out[fmt.Sprintf("%s 0x%08x", sa.Proto, sa.SPI)] = true
	}
	return out
}

// TestKernelRekey: iked's SAs against charon replaced under traffic, by
// iked's own rekey (lifetime 12 s: the soft EXPIRE of its kernel SAs
// starts the Quick Mode), by charon's (swanctl --rekey --child) and by
// charon's phase 1 reauthentication (swanctl --rekey --ike --reauth).
func TestKernelRekey(t *testing.T) {
	requireKernel(t)
	for _, tc := range []struct {
		name     string
		lifetime string
		count    int
		act      func(t *testing.T, s *kernelSetup)
	}{
		{name: "iked-rekeys", lifetime: "12s", count: 150, act: func(t *testing.T, s *kernelSetup) {}},
		{name: "charon-rekeys", lifetime: "66m", count: 80, act: func(t *testing.T, s *kernelSetup) {
			if out, err := s.charon.Swanctl("--rekey", "--child", "c"); err != nil {
				t.Errorf("swanctl --rekey --child: %v\n%s", err, out)
			}
		}},
		{name: "charon-reauth", lifetime: "66m", count: 100, act: func(t *testing.T, s *kernelSetup) {
			if out, err := s.charon.Swanctl("--rekey", "--ike", "c", "--reauth"); err != nil {
				t.Errorf("swanctl --rekey --ike --reauth: %v\n%s", err, out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := "did not come up"
			defer func() { report(t, "5/"+tc.name, line) }()
			kc := kernelCases[0]
			kc.ikedInit = true
			s := newKernelSetup(t, kc)
			s.ikedPolicy = func(sock string) string { return s.policy(sock, "never", tc.lifetime, "") }
			before := kernelState(t, s.ike.NS)
			s.start(t)
			first := s.kernelSPIs(t)
			pol, _ := s.ike.NS.XfrmPolicies()
			pol = withoutSocketPolicies(pol)
			r := s.during(t, "5-"+tc.name, tc.count, 100*time.Millisecond, func() { tc.act(t, s) })
			// The old SAs go with the Delete that follows the new ones
			// (charon sends it some seconds after its rekey).
			now := s.kernelSPIs(t)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				now = s.kernelSPIs(t)
				old := 0
				for k := range now {
					if first[k] {
						old++
					}
				}
				if old == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("old SAs still there 20 s after the %s: %v (first %v)", tc.name, now, first)
					break
				}
			}
			if len(now) < 2 {
				t.Errorf("iked's kernel has %d SAs after the %s: %v\n%s", len(now), tc.name, now, s.iked.catalogSummary())
			}
			if p, _ := s.ike.NS.XfrmPolicies(); withoutSocketPolicies(p) != pol {
				t.Errorf("kernel policies after the %s:\n%s\nbefore:\n%s", tc.name, p, pol)
			}
			bundles, isakmp := 0, 0
			for _, l := range s.iked.Lines() {
				switch l.Msg {
				case "IPsec SA established":
					bundles++
				case "ISAKMP SA established":
					isakmp++
				}
			}
			s.stopIked(t, before)
			line = fmt.Sprintf("%s; SAs before %d, after %d (all new); %d bundles and %d ISAKMP SAs established in all", r, len(first), len(now), bundles, isakmp)
		})
	}
}
