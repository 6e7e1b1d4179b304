package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// liveDaemon is a real iked process: engine none, listening on a free
// loopback port, so that it needs neither root nor a kernel IPsec stack.
type liveDaemon struct {
	sock string
	log  *syncBuffer
	cmd  *exec.Cmd
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	ikedOnce sync.Once
	ikedPath string
	ikedErr  error
)

// ikedBinary builds cmd/iked and cmd/ikectl into one folder once per test
// run and returns iked's path.
func ikedBinary(t *testing.T) string {
	t.Helper()
	ikedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ikectl-test-")
		if err != nil {
			ikedErr = err
			return
		}
		ikedPath = filepath.Join(dir, "iked")
		for _, p := range []string{"iked", "ikectl"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, p), "github.com/iked/iked/cmd/"+p).CombinedOutput(); err != nil {
				ikedErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if ikedErr != nil {
		t.Fatal(ikedErr)
	}
	return ikedPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ikedPath != "" {
		os.RemoveAll(filepath.Dir(ikedPath))
	}
	os.Exit(code)
}

// freeUDPPort asks the kernel for a UDP port free on addr.
func freeUDPPort(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startIked runs iked with a policy made from body: the daemon section is
// written here (addr, a free port, NAT-T off, engine none, a socket in a
// temporary folder), body adds the rest. The example certificates are
// copied beside the policy, their key made owner-only.
func startIked(t *testing.T, addr string, port int, body string) *liveDaemon {
	t.Helper()
	iked := ikedBinary(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "ca.crl", "gw.pem", "gw.key"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "certs", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "certs", f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := &liveDaemon{sock: filepath.Join(dir, "run", "iked.sock"), log: &syncBuffer{}}
	policy := fmt.Sprintf("daemon:\n  listen: [%q]\n  ike-port: %d\n  natt-port: 0\n  engine: none\n  control-socket: %s\n  log: {level: debug}\n%s",
		addr, port, d.sock, body)
	path := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(path, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(iked, "-config", path)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	})
	d.waitLog(t, "iked started", 10*time.Second)
	return d
}

func (d *liveDaemon) waitLog(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(d.log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("iked never logged %q:\n%s", s, d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ikectl runs ikectl's main logic on args and returns its exit status and
// output.
func ikectl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

const certPolicy = `certificates:
  example-ca: {file: certs/ca.pem, trusted: true, crl: certs/ca.crl}
  vpn-gw: {file: certs/gw.pem, private-key: certs/gw.key}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals: {p: [esp]}
proposal-lists: {l: [p]}
connections:
  branch-office:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    initiate: never
    ike: {transforms: [ike], psk: "correct horse battery"}
    proposal-list: l
  branch-lab:
    local-address: 198.51.100.0/24
    remote-address: 203.0.112.0/24
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.3
    initiate: never
    ike: {transforms: [ike], psk: "correct horse battery"}
    proposal-list: l
`

// TestLiveListCertsAndJSON: against a running iked, flags may follow the
// command (`list-certs --json`), list-certs shows the policy's
// certificates with the days to their expiry and the CRL's next update
// (checked against the files themselves), and status gives its uptime in
// seconds in a field named so.
func TestLiveListCertsAndJSON(t *testing.T) {
	d := startIked(t, "127.0.0.1", freeUDPPort(t, "127.0.0.1"), certPolicy)

	code, out, errs := ikectl("list-certs", "--json", "-socket", d.sock)
	if code != 0 {
		t.Fatalf("list-certs --json: exit %d: %s", code, errs)
	}
	var resp control.Response
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(resp.Certs) != 2 {
		t.Fatalf("certs: %+v", resp.Certs)
	}
	ca, gw := resp.Certs[0], resp.Certs[1]
	caX509, crl := readCert(t, "ca.pem"), readCRL(t, "ca.crl")
	gwX509 := readCert(t, "gw.pem")
	now := time.Now()
	near := func(got, want int) bool { return got == want || got == want-1 } // a day may turn between the two clocks
	if ca.Name != "example-ca" || !ca.CA || !ca.Trusted || ca.PrivateKey || ca.Subject != "C=FI, O=Example, CN=Example Root CA" ||
		!ca.NotAfter.Equal(caX509.NotAfter) || !near(ca.DaysToExpiry, control.DaysUntil(now, caX509.NotAfter)) {
		t.Errorf("CA: %+v", ca)
	}
	if ca.CRL == nil || !ca.CRL.NextUpdate.Equal(crl.NextUpdate) || ca.CRL.DaysToNextUpdate == nil ||
		!near(*ca.CRL.DaysToNextUpdate, control.DaysUntil(now, crl.NextUpdate)) || ca.CRL.Revoked != 0 {
		t.Errorf("CRL: %+v", ca.CRL)
	}
	if gw.Name != "vpn-gw" || gw.CA || gw.Trusted || !gw.PrivateKey || gw.Subject != "C=FI, O=Example, CN=vpn.example.com" ||
		gw.Issuer != ca.Subject || gw.Serial != gwX509.SerialNumber.Text(16) || gw.CRL != nil {
		t.Errorf("gateway certificate: %+v", gw)
	}
	if !strings.Contains(out, `"days_to_expiry"`) || !strings.Contains(out, `"next_update"`) {
		t.Errorf("JSON field names:\n%s", out)
	}

	code, out, errs = ikectl("-socket", d.sock, "list-certs")
	if code != 0 {
		t.Fatalf("list-certs: exit %d: %s", code, errs)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"example-ca: CA, trusted",
		fmt.Sprintf("expires in %d days", ca.DaysToExpiry),
		fmt.Sprintf("CRL issued %s, next update %s (due in %d days), 0 revoked", day(crl.ThisUpdate), day(crl.NextUpdate), *ca.CRL.DaysToNextUpdate),
		"vpn-gw: has private key",
		"issuer C=FI, O=Example, CN=Example Root CA",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("list-certs lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = ikectl("status", "-json", "-socket", d.sock)
	if code != 0 {
		t.Fatalf("status -json: exit %d: %s", code, errs)
	}
	var raw struct {
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	up, ok := raw.Status["uptime_seconds"].(float64)
	if !ok || up <= 0 || up > 600 {
		t.Errorf("uptime_seconds %v in %s", raw.Status["uptime_seconds"], out)
	}
	if _, old := raw.Status["uptime"]; old {
		t.Errorf("status still has uptime in nanoseconds: %s", out)
	}
}

func readPEM(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "certs", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	return blk.Bytes
}

func readCert(t *testing.T, name string) *x509.Certificate {
	c, err := x509.ParseCertificate(readPEM(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readCRL(t *testing.T, name string) *x509.RevocationList {
	c, err := x509.ParseRevocationList(readPEM(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLiveBashCompletion loads `ikectl completion bash` into a real bash
// and completes: commands, flags, and the running daemon's connection
// names after initiate (flags before the command are skipped over).
func TestLiveBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	d := startIked(t, "127.0.0.1", freeUDPPort(t, "127.0.0.1"), certPolicy)
	binDir := filepath.Dir(ikedBinary(t))
	complete := func(words ...string) string {
		t.Helper()
		script := `source <(ikectl completion bash) || exit 3
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_ikectl
printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '`
		cmd := exec.Command(bash, append([]string{"-c", script, "bash"}, words...)...)
		cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"ikectl", "list-"}, "list-certs list-conns list-leases list-sas"},
		{[]string{"ikectl", "-js"}, "-json"},
		{[]string{"ikectl", "-json", "mon"}, "monitor"},
		{[]string{"ikectl", "-socket", d.sock, "initiate", "branch-"}, "branch-lab branch-office"},
		{[]string{"ikectl", "-socket", d.sock, "terminate", "branch-o"}, "branch-office"},
		{[]string{"ikectl", "completion", ""}, "bash"},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("%q: completions %q, want %q", tc.words, got, tc.want)
		}
	}
}
