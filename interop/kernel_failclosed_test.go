package interop

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// Scenario 9, fail closed: iked's kernel policies never leave protected
// traffic without a policy. A reload puts the new policies in before it
// takes the old ones out (engine/xfrm/policy.go stacks them), a reload
// whose policies the kernel refuses keeps the old ones in force, and a
// Quick Mode whose policies the kernel refuses is a failed negotiation:
// its SAs are rolled back and the peer is told.

// steady is a continuous ping across the tunnel while something happens,
// with both ends' frames captured: what was lost, and whether anything
// crossed the link in clear.
type steady struct {
	interval  time.Duration
	sent, got int
	wire      map[string]int
	clear     []string
}

func (r steady) lost() int { return r.sent - r.got }

func (r steady) String() string {
	return fmt.Sprintf("ping %d/%d (every %s), lost %d; wire esp %d ah %d nat-t %d ike %d clear %d",
		r.got, r.sent, r.interval, r.lost(), r.wire["esp"], r.wire["ah"], r.wire["nat-t"], r.wire["ike"], r.wire["clear"])
}

// during pings from iked's side count times every interval, runs fn
// meanwhile (after a first second of traffic) and checks the capture.
func (s *kernelSetup) during(t *testing.T, capName string, count int, interval time.Duration, fn func()) steady {
	t.Helper()
	capt := s.captureLink(t)
	r := steady{interval: interval}
	done := make(chan error, 1)
	go func() {
		var err error
		r.sent, r.got, err = s.ike.Ping(s.ikeIn, s.swanIn, count, interval)
		done <- err
	}()
	time.Sleep(time.Second)
	fn()
	if err := <-done; err != nil {
		t.Error(err)
	}
	r.wire, r.clear = capt.stop(t, capName, "peer")
	if r.wire["clear"] != 0 {
		t.Errorf("%d frames crossed the link outside IPsec, first: %q", r.wire["clear"], r.clear)
	}
	return r
}

// withConnection adds a second on-demand connection to iked's policy, a
// copy of "peer" for other subnets: its trap policies are new kernel
// policies at a reload.
func withConnection(policy, name, local, remote string, s *kernelSetup) string {
	i := strings.Index(policy, "  peer:\n")
	c := policy[i:]
	c = strings.Replace(c, "  peer:\n", "  "+name+":\n", 1)
	c = strings.Replace(c, "local-address: "+s.ikeNet.String(), "local-address: "+local, 1)
	c = strings.Replace(c, "remote-address: "+s.swanNet.String(), "remote-address: "+remote, 1)
	return policy + c
}

// TestKernelReload: scenario 9, make-before-break. An on-demand tunnel
// (its trap policies are the policies its SAs use) carries a ping every
// 20 ms while iked reloads its policy ten times, alternating between the
// policy and one with a second connection; a capture of the link shows no
// frame in clear. Then a reload whose new policies the kernel refuses
// (another program holds one of their selectors): iked says so, the old
// policies stay in force and the tunnel still carries the traffic.
func TestKernelReload(t *testing.T) {
	line := kernelScenario(t, "9/reload-under-traffic")
	s := newInitiatorSetup(t)
	v1 := func(sock string) string { return s.policy(sock, "on-demand", "66m", "") }
	s.ikedPolicy = v1
	before := kernelState(t, s.ike.NS)
	s.start(t)
	pol1, err := s.ike.NS.XfrmPolicies()
	if err != nil {
		t.Fatal(err)
	}
	text1, err := os.ReadFile(s.iked.Config)
	if err != nil {
		t.Fatal(err)
	}
	text2 := withConnection(string(text1), "other", "198.51.100.128/25", "198.51.100.0/25", s)
	reload := func(text string) {
		t.Helper()
		if err := os.WriteFile(s.iked.Config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.iked.Call(control.CmdReload, ""); err != nil {
			t.Errorf("reload: %v", err)
		}
	}
	const reloads = 10
	r := s.during(t, "9-reload", 300, 20*time.Millisecond, func() {
		for i := range reloads {
			if i%2 == 0 {
				reload(text2)
			} else {
				reload(string(text1))
			}
			time.Sleep(300 * time.Millisecond)
		}
	})
	if r.got == 0 {
		t.Errorf("no ping through the tunnel during the reloads: %s", r)
	}
	pol, _ := s.ike.NS.XfrmPolicies()
	if pol != pol1 {
		t.Errorf("after the reloads the kernel's policies are\n%s\nwant the first policy's\n%s", pol, pol1)
	}

	// A reload the kernel refuses: another program's policy on the second
	// connection's outbound selector.
	s.ike.NS.MustRun("ip", "xfrm", "policy", "add", "src", "198.51.100.128/25", "dst", "198.51.100.0/25", "dir", "out", "action", "block")
	withForeign, _ := s.ike.NS.XfrmPolicies()
	r2 := s.during(t, "9-reload-refused", 100, 20*time.Millisecond, func() {
		reload(text2)
		deadline := time.Now().Add(10 * time.Second)
		for !s.ikedSaid("kernel policies were not installed") {
			if time.Now().After(deadline) {
				t.Errorf("iked did not report the refused policies:\n%s", s.iked.catalogSummary())
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	if pol, _ := s.ike.NS.XfrmPolicies(); pol != withForeign {
		t.Errorf("a refused reload changed the kernel's policies to\n%s\nwant\n%s", pol, withForeign)
	}
	if r2.got == 0 {
		t.Errorf("no ping through the tunnel after the refused reload: %s", r2)
	}
	s.ike.NS.MustRun("ip", "xfrm", "policy", "del", "src", "198.51.100.128/25", "dst", "198.51.100.0/25", "dir", "out")
	s.stopIked(t, before)
	*line = fmt.Sprintf("%d reloads under a ping every 20 ms: %s; refused reload (foreign policy): old policies kept, iked logged it, ping %d/%d, clear %d",
		reloads, r, r2.got, r2.sent, r2.wire["clear"])
}

// ikedSaid: iked logged a line containing text.
func (s *kernelSetup) ikedSaid(text string) bool {
	for _, l := range s.iked.Lines() {
		if strings.Contains(l.Msg, text) {
			return true
		}
	}
	return false
}

// TestKernelPolicyRefused: scenario 9, a Quick Mode whose kernel policies
// cannot be installed (another program holds the outbound selector, with
// a block policy) fails: iked removes the SAs it had installed, sends
// charon a Delete (charon's child SA goes), logs messages 57 and 58, and
// leaves no SA and no policy of its own in the kernel; nothing crosses the
// link in clear from iked's side.
func TestKernelPolicyRefused(t *testing.T) {
	line := kernelScenario(t, "9/quick-mode-policy-refused")
	*line = "did not run"
	tc := kernelCases[0]
	s := newKernelSetup(t, tc)
	s.ike.NS.MustRun("ip", "xfrm", "policy", "add", "src", s.ikeNet.String(), "dst", s.swanNet.String(), "dir", "out", "action", "block")
	before := kernelState(t, s.ike.NS)
	s.iked = startIkedYAML(t, s.ike.NS, s.ikedPolicy)
	s.charon = StartCharon(t, s.swan.NS, s.copt)
	s.charon.Initiate("c", 20*time.Second) // succeeds or not: iked's Delete may beat swanctl's answer
	m57, err := s.iked.WaitCatalog(57, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m58, err := s.iked.WaitCatalog(58, 5*time.Second)
	if err != nil {
		t.Error(err)
	}
	// charon removes its child SA on iked's Delete.
	deadline := time.Now().Add(15 * time.Second)
	children := -1
	for time.Now().Before(deadline) {
		sas, err := s.charon.ListSAs()
		if err != nil {
			t.Fatal(err)
		}
		children = 0
		for _, sa := range sas {
			children += len(sa.Children)
		}
		if children == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if children != 0 {
		t.Errorf("charon still has %d child SAs: iked's Delete did not reach it\n%s", children, s.iked.catalogSummary())
	}
	if sas := s.waitIkedSAsGone(t, 10*time.Second); len(sas) != 0 {
		t.Errorf("iked left SAs in the kernel after the failed Quick Mode: %v", sas)
	}
	if now := kernelState(t, s.ike.NS); withoutSocketPolicies(now) != before {
		t.Errorf("kernel state after the failed Quick Mode:\n%s\nbefore:\n%s", now, before)
	}
	capt, err := s.ike.NS.StartCapture(s.ike.Link)
	if err != nil {
		t.Fatal(err)
	}
	// The block policy makes the kernel refuse to send (EPERM): busybox
	// ping then stops at once and prints no statistics.
	pingText := ""
	sent, got, err := s.ike.Ping(s.ikeIn, s.swanIn, 5, 100*time.Millisecond)
	switch {
	case err != nil && strings.Contains(err.Error(), "not permitted"):
		pingText = "ping refused by the kernel (EPERM)"
	case err != nil:
		t.Error(err)
	default:
		pingText = fmt.Sprintf("ping %d/%d", got, sent)
	}
	capt.Stop("")
	wire, clear := capt.Counts()
	if got != 0 || wire["clear"] != 0 {
		t.Errorf("traffic of the refused selector: %d/%d answered, %d frames in clear (%q)", got, sent, wire["clear"], clear)
	}
	s.stopIked(t, before)
	*line = fmt.Sprintf("policy install refused (EEXIST, foreign block policy): iked logged %q and %q, sent Delete; charon children %d, iked's SAs 0, %s, clear %d",
		m57, m58, children, pingText, wire["clear"])
}

// withoutSocketPolicies drops the per-socket policies (iked's IKE sockets
// bypass IPsec, daemon/socket.go) from `ip xfrm state; ip xfrm policy`
// text: they live as long as the sockets.
func withoutSocketPolicies(text string) string {
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "src ") && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "socket ") {
			i++
			continue
		}
		out = append(out, lines[i])
	}
	return strings.Join(out, "\n")
}
