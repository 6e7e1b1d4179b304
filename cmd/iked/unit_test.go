package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
)

// unitFile is the systemd unit the Debian package installs.
const unitFile = "../../dist/iked.service"

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// unitValues returns the unit's Key=value lines, each key's values in
// order.
func unitValues(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			kv[k] = append(kv[k], v)
		}
	}
	return kv
}

// TestUnitVerify: systemd-analyze verify accepts dist/iked.service in a
// root laid out as the package installs it (the binary at /usr/sbin/iked,
// the host's system units beside it), and the man pages it names exist.
func TestUnitVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		// .ci/run installs it: under CI its absence is a failure.
		if os.Getenv("CI") != "" {
			t.Fatal("needs systemd-analyze (Debian package systemd)")
		}
		t.Skip("needs systemd-analyze (Debian package systemd)")
	}
	iked, _ := binaries(t)
	root := t.TempDir()
	copyFile(t, iked, filepath.Join(root, "usr/sbin/iked"), 0o755)
	copyFile(t, "/bin/sh", filepath.Join(root, "bin/sh"), 0o755) // ExecReload
	units, err := filepath.Glob("/lib/systemd/system/*.target")
	if err != nil || len(units) == 0 {
		t.Skipf("no systemd targets in /lib/systemd/system to verify against (%v)", err)
	}
	for _, u := range units {
		copyFile(t, u, filepath.Join(root, "lib/systemd/system", filepath.Base(u)), 0o644)
	}
	unit := filepath.Join(root, "lib/systemd/system/iked.service")
	copyFile(t, unitFile, unit, 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, unit).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	kv := unitValues(t)
	for _, doc := range strings.Fields(strings.Join(kv["Documentation"], " ")) {
		name, sect, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(doc, "man:"), ")"), "(")
		if !ok {
			t.Errorf("Documentation %q is not man:NAME(SECTION)", doc)
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("../../docs/man/%s.%s.md", name, sect)); err != nil {
			t.Errorf("the unit names %s: %v", doc, err)
		}
	}
	if got := kv["ExecStart"]; len(got) != 1 || got[0] != "/usr/sbin/iked -config /etc/iked/iked.yaml" {
		t.Errorf("ExecStart %q", got)
	}
}

// The unprivileged user of the tests, as the unit's User= is.
const nobody = 65534

// capsOf reads a process's user and its effective and bounding
// capability sets from /proc.
func capsOf(t *testing.T, pid int) (uid, capEff, capBnd string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Uid":
			uid = v
		case "CapEff":
			capEff = v
		case "CapBnd":
			capBnd = v
		}
	}
	return
}

// unprivileged starts iked in namespace a as user nobody through setpriv
// with the unit's settings (User=, AmbientCapabilities=,
// CapabilityBoundingSet=, NoNewPrivileges=), or with no capability at all.
func unprivileged(t *testing.T, tp topology, dir string, caps bool) *daemonRun {
	t.Helper()
	capList := "-all"
	if caps {
		capList = "-all,+net_admin,+net_bind_service"
	}
	r := &daemonRun{t: t, log: &daemontest.LogBuffer{}, sock: filepath.Join(dir, "run", "iked.sock"),
		policy: filepath.Join(dir, "iked.yaml"), done: make(chan error, 1)}
	r.cmd = exec.Command("ip", "netns", "exec", tp.a, "setpriv",
		fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		"--inh-caps="+capList, "--ambient-caps="+capList, "--bounding-set="+capList, "--no-new-privs",
		filepath.Join(dir, "iked"), "-config", r.policy)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.launch()
	return r
}

func (r *daemonRun) exitCode(limit time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		r.t.Fatalf("iked still runs after %v:\n%s", limit, r.log.String())
	}
	return r.cmd.ProcessState.ExitCode()
}

// TestUnprivileged: as user nobody with only CAP_NET_ADMIN and
// CAP_NET_BIND_SERVICE, iked binds UDP 500 and 4500, installs its kernel
// policies (engine xfrm) and reads a PSK file that user alone may read;
// without the capabilities it cannot start, and a PSK file only root may
// read is refused.
func TestUnprivileged(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	tp := newTopology(t)
	iked, _ := binaries(t)
	dir, err := os.MkdirTemp("", "iked-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, iked, filepath.Join(dir, "iked"), 0o755)
	psk := filepath.Join(dir, "branch.psk")
	policy := strings.Replace(fmt.Sprintf(testPolicy, "xfrm", filepath.Join(dir, "run", "iked.sock"), "branch"),
		`psk: "correct horse battery"`, "psk-file: "+psk, 1)
	for _, f := range []struct {
		name, text string
	}{{"iked.yaml", policy}, {"branch.psk", "correct horse battery\n"}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"iked.yaml", "branch.psk", "run"} {
		if err := os.Chown(filepath.Join(dir, f), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}

	r := unprivileged(t, tp, dir, true)
	r.waitLog("iked started", 10*time.Second)
	uid, eff, bnd := capsOf(t, r.cmd.Process.Pid)
	// Bits 10 (CAP_NET_BIND_SERVICE) and 12 (CAP_NET_ADMIN).
	if uid != "65534\t65534\t65534\t65534" || eff != "0000000000001400" || bnd != "0000000000001400" {
		t.Fatalf("iked runs with Uid %q CapEff %s CapBnd %s", uid, eff, bnd)
	}
	if ss := sh(t, "ip", "netns", "exec", tp.a, "ss", "-ulpn"); !strings.Contains(ss, "0.0.0.0:500 ") || !strings.Contains(ss, "0.0.0.0:4500 ") {
		t.Errorf("UDP 500 and 4500 not bound:\n%s", ss)
	}
	if pol := sh(t, "ip", "-n", tp.a, "xfrm", "policy"); !strings.Contains(pol, "tmpl src 192.0.2.1 dst 192.0.2.2") {
		t.Errorf("no kernel policy installed:\n%s", pol)
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.exitCode(15 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.log.String())
	}
	if pol := strings.TrimSpace(sh(t, "ip", "-n", tp.a, "xfrm", "policy")); pol != "" {
		t.Errorf("policies left after stop:\n%s", pol)
	}

	// No capability: the engine cannot attach, or port 500 cannot be bound.
	r = unprivileged(t, tp, dir, false)
	if code := r.exitCode(15 * time.Second); code != 1 {
		t.Errorf("without capabilities: exit %d, want 1:\n%s", code, r.log.String())
	}

	// The PSK file readable by root alone: the policy is refused.
	if err := os.Chown(psk, 0, 0); err != nil {
		t.Fatal(err)
	}
	r = unprivileged(t, tp, dir, true)
	if code := r.exitCode(15 * time.Second); code != 1 || !strings.Contains(r.log.String(), "SPD: Policy not instantiated") {
		t.Errorf("PSK file of root: exit %d, want 1 and message 21:\n%s", code, r.log.String())
	}
}
