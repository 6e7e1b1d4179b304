package interop

import (
	"fmt"
	"testing"
	"time"
)

// TestKernelDPDHold: dpd.action hold with the kernel's own ACQUIRE. iked
// starts the connection (`initiate: start`, so no trap policies of its
// own), charon dies without a Delete, and iked's DPD (delay 3 s, timeout
// 10 s: charon under emulation may take seconds to answer) removes the SAs from the kernel but keeps the bundle's policies.
// Once charon is back (its host "rebooted": its SAD and SPD flushed), a
// ping from iked's side matches the held policies, the kernel asks iked
// for SAs (ACQUIRE), iked negotiates and the pings get answers; the held
// policies give way to the new bundle's, and iked's SIGTERM leaves the
// kernel as it found it.
func TestKernelDPDHold(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	line := "did not come up"
	defer func() { report(t, "7b/dpd-hold", line) }()
	s := newKernelSetup(t, kernelCases[0])
	s.ikedPolicy = func(sock string) string {
		return s.policy(sock, "start", "66m", "    dpd: {delay: 3s, timeout: 10s, action: hold}\n")
	}
	before := kernelState(t, s.ike.NS)
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
	if err := s.charon.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for deadline := killed.Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		sas, err := s.ike.NS.XfrmStates()
		if err != nil {
			t.Fatal(err)
		}
		if len(sas) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("iked kept its SAs after the peer died: %v\n%s", sas, s.iked.catalogSummary())
		}
	}
	gone := time.Since(killed)
	held, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if held != up {
		t.Fatalf("policies after hold:\n%s\nwant the bundle's:\n%s", held, up)
	}
	waitIkedLine(t, s.iked, "peer dead: dpd action", map[string]string{"action": "hold"}, time.Second)
	s.swan.NS.MustRun("ip", "xfrm", "state", "flush")
	s.swan.NS.MustRun("ip", "xfrm", "policy", "flush")
	s.charon = StartCharon(t, s.swan.NS, s.copt)
	start := time.Now()
	sent, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 40, 250*time.Millisecond)
	if err != nil || got == 0 {
		t.Fatalf("after the ACQUIRE: %v, %d of %d answered\n%s", err, got, sent, s.iked.catalogSummary())
	}
	if _, err := s.waitIkedSAs(2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	line = fmt.Sprintf("peer killed; SAs removed after %v, policies held; after charon came back %d of %d pings answered in a %v ping run, new SAs via ACQUIRE",
		gone.Round(100*time.Millisecond), got, sent, time.Since(start).Round(100*time.Millisecond))
	s.stopIked(t, before)
}
