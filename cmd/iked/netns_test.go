package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/interop"
)

// The start/stop tests run the real binary in network namespaces of their
// own, so that ports 500 and 4500 are free and nothing leaves
// the machine. They need root and iproute2; they skip otherwise.

// sh runs a command on the host (interop.Exec).
var sh = interop.Exec

func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
}

// topology is two namespaces joined by a veth pair: the daemon at
// 192.0.2.1 / 2001:db8:7::1, the peer at 192.0.2.2 / 2001:db8:7::2.
type topology struct{ a, b string }

func newTopology(t *testing.T) topology {
	t.Helper()
	id := rand.Uint32() % 100000
	tp := topology{a: fmt.Sprintf("nt-%d-a", id), b: fmt.Sprintf("nt-%d-b", id)}
	va, vb := fmt.Sprintf("ntv%da", id), fmt.Sprintf("ntv%db", id)
	sh(t, "ip", "netns", "add", tp.a)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", tp.a).Run() })
	sh(t, "ip", "netns", "add", tp.b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", tp.b).Run() })
	sh(t, "ip", "-n", tp.a, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", tp.b)
	for _, c := range [][]string{
		{"ip", "-n", tp.a, "link", "set", "lo", "up"},
		{"ip", "-n", tp.b, "link", "set", "lo", "up"},
		{"ip", "-n", tp.a, "addr", "add", "192.0.2.1/24", "dev", va},
		{"ip", "-n", tp.b, "addr", "add", "192.0.2.2/24", "dev", vb},
		{"ip", "-n", tp.a, "addr", "add", "2001:db8:7::1/64", "dev", va, "nodad"},
		{"ip", "-n", tp.b, "addr", "add", "2001:db8:7::2/64", "dev", vb, "nodad"},
		{"ip", "-n", tp.a, "link", "set", va, "up"},
		{"ip", "-n", tp.b, "link", "set", vb, "up"},
	} {
		sh(t, c...)
	}
	return tp
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds iked and ikectl once per test run.
func binaries(t *testing.T) (iked, ikectl string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nt-bin-")
		if buildErr != nil {
			return
		}
		for _, p := range []string{"iked", "ikectl"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, p), "github.com/iked/iked/cmd/"+p).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "iked"), filepath.Join(buildDir, "ikectl")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const testPolicy = `daemon:
  listen: ["0.0.0.0", "::"]
  engine: %s
  control-socket: %s
  log: {level: debug}
transforms:
  ike-default: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp-default: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp-only: [esp-default]
proposal-lists:
  qm-default: [esp-only]
connections:
  %s:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    ike: {mode: main, transforms: [ike-default], auth: psk, psk: "correct horse battery"}
    proposal-list: qm-default
`

// daemonRun is one iked process in namespace a.
type daemonRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *daemontest.LogBuffer
	sock   string
	policy string
	ikectl string
	done   chan error
}

func startDaemon(t *testing.T, tp topology, engine string) *daemonRun {
	t.Helper()
	iked, ikectl := binaries(t)
	dir := t.TempDir()
	r := &daemonRun{t: t, log: &daemontest.LogBuffer{}, sock: filepath.Join(dir, "run", "iked.sock"),
		policy: filepath.Join(dir, "iked.yaml"), ikectl: ikectl, done: make(chan error, 1)}
	r.writePolicy(engine, "branch")
	r.cmd = exec.Command("ip", "netns", "exec", tp.a, iked, "-config", r.policy)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	r.waitLog("iked started", 10*time.Second)
	return r
}

func (r *daemonRun) writePolicy(engine, conn string) {
	r.t.Helper()
	if err := os.WriteFile(r.policy, []byte(fmt.Sprintf(testPolicy, engine, r.sock, conn)), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *daemonRun) waitLog(s string, limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(r.log.String(), s) {
		if time.Now().After(deadline) {
			r.t.Fatalf("log never said %q:\n%s", s, r.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctl runs ikectl -json and decodes the answer.
func (r *daemonRun) ctl(args ...string) *control.Response {
	r.t.Helper()
	out, err := exec.Command(r.ikectl, append([]string{"-socket", r.sock, "-json"}, args...)...).Output()
	var resp control.Response
	if jerr := json.Unmarshal(out, &resp); jerr != nil {
		r.t.Fatalf("ikectl %v: %v %v\n%s", args, err, jerr, out)
	}
	return &resp
}

func (r *daemonRun) stop() int {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		r.t.Fatalf("iked did not stop on SIGTERM:\n%s", r.log.String())
	}
	return r.cmd.ProcessState.ExitCode()
}

func counter(t *testing.T, cs []control.Counter, name string) uint64 {
	t.Helper()
	v, ok := control.Get(cs, name)
	if !ok {
		t.Fatalf("no counter %q", name)
	}
	return v
}

// TestStartStop: iked binds 500 and 4500 for IPv4 and IPv6, logs message 1,
// counts the malformed datagrams another namespace sends, keeps its policy
// on a broken or missing file at SIGHUP, takes a good one, and on SIGTERM
// logs message 3 and exits 0.
func TestStartStop(t *testing.T) {
	needRoot(t)
	tp := newTopology(t)
	r := startDaemon(t, tp, "none")

	ss := sh(t, "ip", "netns", "exec", tp.a, "ss", "-ulpn")
	for _, want := range []string{"0.0.0.0:500 ", "0.0.0.0:4500 ", "[::]:500 ", "[::]:4500 "} {
		if !strings.Contains(ss, want) {
			t.Errorf("ss -ulpn lacks %s:\n%s", want, ss)
		}
	}
	if !strings.Contains(r.log.String(), "IPSEC: Initializing engine") {
		t.Errorf("no message 1:\n%s", r.log.String())
	}
	st := r.ctl("status").Status
	if st == nil || st.Engine != "none" || st.Conns != 1 || len(st.Listening) != 4 {
		t.Fatalf("status %+v", st)
	}
	fi, err := os.Stat(r.sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket %v, %v; want mode 0600", fi, err)
	}

	// Malformed datagrams from the peer's namespace, over IPv4 and IPv6.
	capture, err := os.ReadFile("../../isakmp/testdata/captures/ike-scan-mm-default-01-i2r.bin")
	if err != nil {
		t.Fatal(err)
	}
	capFile := filepath.Join(t.TempDir(), "mm1.bin")
	os.WriteFile(capFile, capture, 0o600)
	bad := capture[:len(capture)-1]
	badFile := filepath.Join(t.TempDir(), "trunc.bin")
	os.WriteFile(badFile, bad, 0o600)
	ver := append([]byte(nil), capture...)
	ver[17] = 0x20
	verFile := filepath.Join(t.TempDir(), "v2.bin")
	os.WriteFile(verFile, ver, 0o600)
	script := fmt.Sprintf(`set -e
printf '\xff' > /dev/udp/192.0.2.1/4500
printf 'junk' > /dev/udp/192.0.2.1/500
printf 'junk' > /dev/udp/2001:db8:7::1/500
cat %[1]s > /dev/udp/192.0.2.1/500
cat %[2]s > /dev/udp/2001:db8:7::1/500
cat %[3]s > /dev/udp/192.0.2.1/500
`, badFile, verFile, capFile)
	sh(t, "ip", "netns", "exec", tp.b, "bash", "-c", script)
	time.Sleep(300 * time.Millisecond)
	stats := r.ctl("stats").Stats
	for name, want := range map[string]uint64{"short": 2, "bad-length": 1, "bad-version": 1} {
		if got := counter(t, stats.Dropped, name); got != want {
			t.Errorf("dropped %s = %d, want %d", name, got, want)
		}
	}
	if got := counter(t, stats.Received, "keepalives"); got != 1 {
		t.Errorf("keepalives %d, want 1", got)
	}
	if got := counter(t, stats.Received, "datagrams"); got != 6 {
		t.Errorf("datagrams %d, want 6", got)
	}
	// Every datagram ended in exactly one counter; the real ike-scan first
	// message passed the cheap checks and went to phase 1.
	if got := counter(t, stats.Received, "keepalives") + counter(t, stats.Received, "dropped") + counter(t, stats.Received, "accepted"); got != 6 {
		t.Errorf("6 datagrams, %d accounted for", got)
	}
	if got := counter(t, stats.Received, "accepted") + counter(t, stats.Dropped, "rejected"); got != 1 {
		t.Errorf("the real first message did not reach phase 1: accepted+rejected = %d", got)
	}

	// A real IKEv1 initiator: ike-scan's Main Mode proposal gets MM2 with
	// the transform the policy allows, and the SA waits half-open.
	if _, err := exec.LookPath("ike-scan"); err == nil {
		out := sh(t, "ip", "netns", "exec", tp.b, "ike-scan", "-M", "--trans=7/128,4,1,14", "192.0.2.1")
		if !strings.Contains(out, "Main Mode Handshake returned") || !strings.Contains(out, "Enc=AES") || !strings.Contains(out, "Hash=SHA2-256") {
			t.Errorf("ike-scan got no Main Mode answer:\n%s\n%s", out, r.log.String())
		}
		sas := r.ctl("list-sas").SAs
		if len(sas) != 1 || sas[0].Role != "responder" || sas[0].State != "half-open" || sas[0].Remote != "192.0.2.2:500" {
			t.Errorf("list-sas after ike-scan: %+v", sas)
		}
		if st := r.ctl("status").Status; st.HalfOpen != 1 {
			t.Errorf("half-open %d, want 1", st.HalfOpen)
		}
		if len(sas) == 1 {
			if resp := r.ctl("terminate", sas[0].ICookie); resp.Error != "" || len(r.ctl("list-sas").SAs) != 0 {
				t.Errorf("terminate by cookie: %+v", resp)
			}
		}
	}

	// SIGHUP with a broken file: messages, 21, the policy stays.
	os.WriteFile(r.policy, []byte("daemon:\n  listen: [\n"), 0o600)
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.waitLog("SPD: Policy not instantiated due to errors.", 5*time.Second)
	if cs := r.ctl("list-conns").Conns; len(cs) != 1 || cs[0].Name != "branch" {
		t.Errorf("after a broken reload: conns %+v", cs)
	}
	// A missing file: message 5.
	os.Remove(r.policy)
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.waitLog("Could not read configuration file `"+r.policy+"': not reconfiguring", 5*time.Second)
	if cs := r.ctl("list-conns").Conns; len(cs) != 1 || cs[0].Name != "branch" {
		t.Errorf("after an unreadable reload: conns %+v", cs)
	}
	// ikectl reload of a broken file fails and says why.
	os.WriteFile(r.policy, []byte("bogus-key: 1\n"), 0o600)
	if resp := r.ctl("reload"); resp.Error == "" || len(resp.Messages) == 0 {
		t.Errorf("reload of a broken file: %+v", resp)
	}
	// A good file with another connection is taken.
	r.writePolicy("none", "branch2")
	if resp := r.ctl("reload"); resp.Error != "" {
		t.Errorf("reload of a good file: %+v", resp)
	}
	if cs := r.ctl("list-conns").Conns; len(cs) != 1 || cs[0].Name != "branch2" {
		t.Errorf("after a good reload: conns %+v", cs)
	}
	if resp := r.ctl("initiate", "nosuch"); resp.Error == "" {
		t.Errorf("initiate of an unknown connection succeeded")
	}

	if code := r.stop(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	log := r.log.String()
	if !strings.Contains(log, "IPSEC: Detaching from the TCP/IP stack") {
		t.Errorf("no message 3:\n%s", log)
	}
	if strings.Contains(log, "correct horse battery") {
		t.Error("the PSK reached the log")
	}
	if _, err := os.Stat(r.sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

// TestStartStopXfrm runs the kernel engine: the on-demand connection's
// policies are in the namespace's XFRM tables while iked runs (message 2)
// and gone after SIGTERM (message 3).
func TestStartStopXfrm(t *testing.T) {
	needRoot(t)
	tp := newTopology(t)
	r := startDaemon(t, tp, "xfrm")
	r.waitLog("IPSEC: Attaching to the TCP/IP stack", 5*time.Second)
	pol := sh(t, "ip", "-n", tp.a, "xfrm", "policy")
	for _, want := range []string{"dir out", "dir in", "dir fwd", "tmpl src 192.0.2.1 dst 192.0.2.2", "proto esp reqid 1761607681 mode tunnel"} {
		if !strings.Contains(pol, want) {
			t.Errorf("xfrm policy lacks %q:\n%s", want, pol)
		}
	}
	if code := r.stop(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	r.waitLog("IPSEC: Detaching from the TCP/IP stack", time.Second)
	if pol := strings.TrimSpace(sh(t, "ip", "-n", tp.a, "xfrm", "policy")); pol != "" {
		t.Errorf("policies left after stop:\n%s", pol)
	}
}

// TestBadPolicyExits: a policy with serious errors is message 21 and exit 1,
// before any socket or engine.
func TestBadPolicyExits(t *testing.T) {
	iked, _ := binaries(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("connections:\n  x:\n    local-address: 10.0.0.0/33\n"), 0o600)
	out, err := exec.Command(iked, "-config", p).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out)
	}
	for _, want := range []string{"SPD: Could not decode local-address of connection `x'", "SPD: Policy not instantiated due to errors."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "Initializing engine") {
		t.Error("engine opened for a refused policy")
	}
	// -check says the same and exits 1; a good policy exits 0.
	out, err = exec.Command(iked, "-check", "-config", p).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "Policy not instantiated") {
		t.Errorf("-check on a bad policy: %v\n%s", err, out)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(fmt.Sprintf(testPolicy, "none", filepath.Join(dir, "s"), "c")), 0o600)
	if out, err := exec.Command(iked, "-check", "-config", good).CombinedOutput(); err != nil {
		t.Errorf("-check on a good policy: %v\n%s", err, out)
	}
	if out, err := exec.Command(iked, "-version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "iked ") {
		t.Errorf("-version: %v %s", err, out)
	}
}
