package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
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
// starts the Quick Mode), by iked on request (ikectl rekey), by charon's
// (swanctl --rekey --child), and by phase 1 reauthentication: iked's at
// its ISAKMP SA's lifetime, iked's on request (ikectl reauth) and
// charon's (swanctl --rekey --ike --reauth).
func TestKernelRekey(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	for _, tc := range []struct {
		name     string
		lifetime string // the IPsec SAs'
		ike      string // the ISAKMP SA's lifetime, "" for 8 h
		kbytes   int    // lifetime-kbytes
		count    int    // pings, one every 100 ms
		act      func(t *testing.T, s *kernelSetup)
		// rekey: new SAs must carry the traffic; oldGone: and the old
		// ones must be gone (charon keeps a child it rekeyed until it
		// expires); reauth: a second ISAKMP SA must come up.
		rekey, oldGone, reauth bool
	}{
		// Scenario 5 and 6 by time: the soft EXPIRE at 13.5 s of 15 s.
		{name: "iked-rekeys", lifetime: "15s", count: 170, act: func(t *testing.T, s *kernelSetup) {}, rekey: true, oldGone: true},
		// Scenario 6 by volume: lifetime-kbytes 256, and 300 KiB each
		// way over TCP during the ping.
		{name: "iked-rekeys-volume", lifetime: "66m", kbytes: 256, count: 60, act: func(t *testing.T, s *kernelSetup) {
			if err := TCPTransfer(s.ike, s.swan, s.ikeIn, s.swanIn, 300<<10); err != nil {
				t.Error(err)
			}
		}, rekey: true, oldGone: true},
		// Scenario 5 on request: ikectl rekey, an hour before the soft
		// lifetime.
		{name: "ikectl-rekey", lifetime: "66m", count: 80, act: func(t *testing.T, s *kernelSetup) {
			if resp, err := s.iked.Call(control.CmdRekey, "peer"); err != nil || len(resp.Messages) != 1 {
				t.Errorf("ikectl rekey peer: %v %+v", err, resp)
			}
		}, rekey: true, oldGone: true},
		{name: "charon-rekeys", lifetime: "66m", count: 80, act: func(t *testing.T, s *kernelSetup) {
			if out, err := s.charon.Swanctl("--rekey", "--child", "c"); err != nil {
				t.Errorf("swanctl --rekey --child: %v\n%s", err, out)
			}
		}, rekey: true},
		{name: "iked-reauth", lifetime: "66m", ike: "15s", count: 170, act: func(t *testing.T, s *kernelSetup) {}, reauth: true},
		{name: "ikectl-reauth", lifetime: "66m", count: 100, act: func(t *testing.T, s *kernelSetup) {
			if resp, err := s.iked.Call(control.CmdReauth, "peer"); err != nil || len(resp.Messages) != 1 {
				t.Errorf("ikectl reauth peer: %v %+v", err, resp)
			}
		}, reauth: true},
		{name: "charon-reauth", lifetime: "66m", count: 100, act: func(t *testing.T, s *kernelSetup) {
			if out, err := s.charon.Swanctl("--rekey", "--ike", "ike", "--reauth"); err != nil {
				t.Errorf("swanctl --rekey --ike --reauth: %v\n%s", err, out)
			}
		}, reauth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := "did not come up"
			defer func() { report(t, "5/"+tc.name, line) }()
			s := newInitiatorSetup(t)
			s.ikedPolicy = func(sock string) string {
				extra := ""
				if tc.kbytes != 0 {
					extra = fmt.Sprintf("    lifetime-kbytes: %d\n", tc.kbytes)
				}
				p := s.policy(sock, "never", tc.lifetime, extra)
				if tc.ike != "" {
					p = strings.Replace(p, "groups: [modp2048]}", "groups: [modp2048], lifetime: "+tc.ike+"}", 1)
					p = strings.Replace(p, "  phase2-lifetime-min: 1s\n", "  phase2-lifetime-min: 1s\n  phase1-lifetime-min: 1s\n", 1)
				}
				return p
			}
			before := kernelState(t, s.ike.NS)
			s.start(t)
			first := s.kernelSPIs(t)
			pol, _ := s.ike.NS.XfrmPolicies()
			pol = withoutSocketPolicies(pol)
			r := s.during(t, "5-"+tc.name, tc.count, 100*time.Millisecond, func() { tc.act(t, s) })
			// The new SAs carried traffic; the old go with the Delete that
			// follows (iked's own at once; charon's when they expire).
			now, err := s.ike.NS.XfrmStates()
			if err != nil {
				t.Fatal(err)
			}
			var fresh uint64
			for _, sa := range now {
				if !first[fmt.Sprintf("%s 0x%08x", sa.Proto, sa.SPI)] {
					fresh += sa.Packets
				}
			}
			if tc.rekey && fresh == 0 {
				t.Errorf("after the %s no new SA carried traffic: %v (first %v)\n%s", tc.name, now, first, s.iked.catalogSummary())
			}
			for deadline := time.Now().Add(20 * time.Second); tc.oldGone; time.Sleep(200 * time.Millisecond) {
				if now, err = s.ike.NS.XfrmStates(); err != nil {
					t.Fatal(err)
				}
				old := 0
				for _, sa := range now {
					if first[fmt.Sprintf("%s 0x%08x", sa.Proto, sa.SPI)] {
						old++
					}
				}
				if old == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%d old SAs left 20 s after the %s: %v", old, tc.name, now)
					break
				}
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
			if tc.reauth && isakmp < 2 {
				t.Errorf("no second ISAKMP SA after the %s\n%s", tc.name, s.iked.catalogSummary())
			}
			s.stopIked(t, before)
			line = fmt.Sprintf("%s; kernel SAs before %d, after %d; %d bundles and %d ISAKMP SAs established in all", r, len(first), len(now), bundles, isakmp)
		})
	}
}

// TestKernelHardExpiry: scenario 6, the hard limit. charon dies (SIGKILL,
// no Delete, no DPD) so iked's rekey at the soft EXPIRE gets no answer;
// at the hard limit (15 s) the kernel removes the SAs and iked forgets
// the bundle. The policies stay (the connection is configured), so the
// traffic is dropped, not sent in clear.
func TestKernelHardExpiry(t *testing.T) {
	line := kernelScenario(t, "6/hard-expiry")
	s := newInitiatorSetup(t)
	s.ikedPolicy = func(sock string) string { return s.policy(sock, "never", "15s", "") }
	before := kernelState(t, s.ike.NS)
	s.start(t)
	first := s.kernelSPIs(t)
	up := time.Now()
	if err := s.charon.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// The keyed SAs go at the hard limit; the SPIs the unanswered rekey
	// reserved (larval SAs) go when its Quick Mode gives up.
	var gone time.Duration
	for deadline := up.Add(40 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := 0
		for k := range s.kernelSPIs(t) {
			if first[k] {
				left++
			}
		}
		if left == 0 {
			gone = time.Since(up)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("iked's SAs still in the kernel %v after they came up\n%s", time.Since(up), s.iked.catalogSummary())
		}
	}
	// iked hears the hard EXPIRE just after the kernel acted on it.
	expired := false
	for deadline := time.Now().Add(5 * time.Second); !expired && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, l := range s.iked.Lines() {
			expired = expired || l.Msg == "IPsec SA deleted" && l.Fields["reason"] == "expired"
		}
	}
	if !expired {
		t.Errorf("iked did not log the hard expiry:\n%s", s.iked.catalogSummary())
	}
	capt, err := s.ike.NS.StartCapture(s.ike.Link)
	if err != nil {
		t.Fatal(err)
	}
	sent, got, _ := s.ike.Ping(s.ikeIn, s.swanIn, 5, 100*time.Millisecond)
	capt.Stop("")
	wire, _ := capt.Counts()
	if wire["clear"] != 0 {
		t.Errorf("%d frames in clear after the hard expiry", wire["clear"])
	}
	s.stopIked(t, before)
	*line = fmt.Sprintf("peer killed after the SAs came up; iked's rekey unanswered; the kernel removed the SAs %v after the test saw them up (hard lifetime 15 s from their install); then ping %d/%d, clear %d",
		gone.Round(100*time.Millisecond), got, sent, wire["clear"])
}
