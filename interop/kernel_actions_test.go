package interop

import (
	"fmt"
	"testing"
	"time"
)

// holdStart starts charon and iked (`initiate: start`, so no trap
// policies of its own, extra at the end of its connection), waits for the
// bundle and a ping through it, and returns the kernel state before iked
// started and iked's policies with the bundle up.
func holdStart(t *testing.T, s *kernelSetup, extra string) (before, up string) {
	t.Helper()
	s.ikedPolicy = func(sock string) string { return s.policy(sock, "start", "66m", extra) }
	before = kernelState(t, s.ike.NS)
	s.charon = StartCharon(t, s.swan.NS, s.copt)
	s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
	if _, err := s.waitIkedSAs(2, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, s.iked.catalogSummary())
	}
	waitIkedLine(t, s.iked, "IPsec SA established", map[string]string{"conn": "peer"}, 30*time.Second)
	up, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 5, 200*time.Millisecond); err != nil || got == 0 {
		t.Fatalf("first bundle: %v, %d answered\n%s", err, got, s.iked.catalogSummary())
	}
	return before, up
}

// holdResumes checks that iked's policies are still up's with the SAs
// gone, then that pings make the kernel ask for SAs, iked negotiates them
// and the pings get answers; it says how many.
func holdResumes(t *testing.T, s *kernelSetup, up string) string {
	t.Helper()
	held, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if held != up {
		t.Fatalf("policies after hold:\n%s\nwant the bundle's:\n%s", held, up)
	}
	start := time.Now()
	sent, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 40, 250*time.Millisecond)
	if err != nil || got == 0 {
		t.Fatalf("after the ACQUIRE: %v, %d of %d answered\n%s", err, got, sent, s.iked.catalogSummary())
	}
	if _, err := s.waitIkedSAs(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("policies held; %d of %d pings answered in a %v ping run, new SAs via ACQUIRE", got, sent,
		time.Since(start).Round(100*time.Millisecond))
}

// TestKernelDPDHold: dpd.action hold with the kernel's own ACQUIRE.
// charon dies without a Delete, and iked's DPD (delay 3 s, timeout 10 s:
// charon under emulation may take seconds to answer) removes the SAs from
// the kernel but keeps the bundle's policies. Once charon is back (its
// host "rebooted": its SAD and SPD flushed), a ping from iked's side
// matches the held policies, the kernel asks iked for SAs (ACQUIRE), iked
// negotiates and the pings get answers; the held policies give way to the
// new bundle's, and iked's SIGTERM leaves the kernel as it found it
// (strongSwan's dpd_action = trap).
func TestKernelDPDHold(t *testing.T) {
	line := kernelScenario(t, "7b/dpd-hold")
	s := newKernelSetup(t, kernelCases[0])
	before, up := holdStart(t, s, "    dpd: {delay: 3s, timeout: 10s, action: hold}\n")
	if err := s.charon.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if sas := s.waitIkedSAsGone(t, 30*time.Second); len(sas) != 0 {
		t.Fatalf("iked kept its SAs after the peer died: %v\n%s", sas, s.iked.catalogSummary())
	}
	gone := time.Since(killed)
	waitIkedLine(t, s.iked, "peer dead: dpd action", map[string]string{"action": "hold"}, time.Second)
	s.swan.NS.MustRun("ip", "xfrm", "state", "flush")
	s.swan.NS.MustRun("ip", "xfrm", "policy", "flush")
	s.charon = StartCharon(t, s.swan.NS, s.copt)
	*line = fmt.Sprintf("peer killed; SAs removed after %v; %s", gone.Round(100*time.Millisecond), holdResumes(t, s, up))
	s.stopIked(t, before)
}

// TestKernelCloseHold: close-action hold with the kernel's own ACQUIRE.
// charon deletes the child SA (swanctl --terminate --child); iked
// removes the SAs from the kernel but keeps the bundle's policies; a ping
// then makes the kernel ask for SAs, iked runs a Quick Mode on the ISAKMP
// SA it still has, and the pings get answers (strongSwan's close_action =
// trap).
func TestKernelCloseHold(t *testing.T) {
	line := kernelScenario(t, "7c/close-hold")
	s := newKernelSetup(t, kernelCases[0])
	before, up := holdStart(t, s, "    close-action: hold\n")
	s.peerDeletes(t)
	waitIkedLine(t, s.iked, "peer closed the connection: close-action", map[string]string{"action": "hold"}, time.Second)
	*line = "charon deleted the child; " + holdResumes(t, s, up)
	s.stopIked(t, before)
}
