package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
)

// Charon is a strongSwan charon running in a namespace, with its own
// configuration folder, vici socket and log.
type Charon struct {
	NS  *Namespace
	Dir string // strongswan.conf, swanctl/, charon.log, vici
	t   testing.TB
	cmd *exec.Cmd
	out daemontest.LogBuffer // charon's stdout and stderr
	err chan error           // the result of cmd.Wait, once
}

// swanctlDirs are the folders swanctl --load-all expects below SWANCTL_DIR;
// creating them keeps its output free of "opening directory failed".
var swanctlDirs = []string{"x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl",
	"pubkey", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "private", "conf.d"}

// StartCharon writes the configuration of opt, starts charon in ns, waits for
// its vici socket and loads the configuration with swanctl --load-all.
// t.Cleanup stops it; the folder is removed unless the test failed, in which
// case its path and the end of the log are printed.
func StartCharon(t testing.TB, ns *Namespace, opt CharonOptions) *Charon {
	t.Helper()
	// Not t.TempDir: the vici socket path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", Prefix+"charon-")
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	c := &Charon{NS: ns, Dir: dir, t: t, err: make(chan error, 1)}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("interop: charon %s kept in %s; log tail, without the vici clients' lines:\n%s", ns.Name, dir, c.Tail(40))
			return
		}
		os.RemoveAll(dir)
	})
	if err := c.writeConfig(&opt); err != nil {
		t.Fatalf("interop: %v", err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "swanctl", "swanctl.conf"))
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	RequirePlugins(t, append(basePlugins, pluginsFor(&opt, string(conf))...)...)
	c.cmd = exec.Command("ip", "netns", "exec", ns.Name, CharonPath)
	c.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("interop: start charon in %s: %v", ns.Name, err)
	}
	go func() { c.err <- c.cmd.Wait() }()
	// A guard: charon loads its plugins in a second here, but takes many in
	// an emulated VM (scripts/kernel-test.sh).
	if err := c.waitVici(60 * time.Second); err != nil {
		t.Fatalf("interop: charon in %s: %v", ns.Name, err)
	}
	if out, err := c.Swanctl("--load-all", "--noprompt", "--file", filepath.Join(dir, "swanctl", "swanctl.conf")); err != nil {
		t.Fatalf("interop: charon in %s: %v", ns.Name, err)
	} else if loadFailed(out) {
		t.Fatalf("interop: charon in %s: swanctl --load-all:\n%s", ns.Name, out)
	}
	return c
}

// loadFailed reports whether swanctl --load-all said that something of the
// configuration failed to load; warnings about plugins it could not load
// itself are not failures (swanctlWarning).
func loadFailed(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "failed") && !swanctlWarning(line) {
			return true
		}
	}
	return false
}

// writeConfig writes strongswan.conf, swanctl/swanctl.conf and copies the
// credentials.
func (c *Charon) writeConfig(opt *CharonOptions) error {
	var b bytes.Buffer
	if err := writeStrongswanConf(&b, c.Dir, opt); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "strongswan.conf"), b.Bytes(), 0o600); err != nil {
		return err
	}
	for _, d := range swanctlDirs {
		if err := os.MkdirAll(filepath.Join(c.Dir, "swanctl", d), 0o700); err != nil {
			return err
		}
	}
	b.Reset()
	if err := writeSwanctlConf(&b, opt); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "swanctl", "swanctl.conf"), b.Bytes(), 0o600); err != nil {
		return err
	}
	for sub, files := range map[string][]string{"x509ca": opt.Credentials.CACerts, "x509": opt.Credentials.Certs, "private": opt.Credentials.Keys} {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(c.Dir, "swanctl", sub, filepath.Base(f)), data, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitVici waits until charon accepts connections on its vici socket, or
// fails early when charon exits.
func (c *Charon) waitVici(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.err:
			c.err <- err
			return fmt.Errorf("exited (%v): %s", err, c.out.String())
		default:
		}
		if conn, err := net.Dial("unix", c.ViciPath()); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no vici socket after %v: %s", limit, c.out.String())
}

// ViciPath is the path of the instance's vici socket.
func (c *Charon) ViciPath() string { return filepath.Join(c.Dir, "vici") }

// LogPath is the path of the instance's ike=4/chd=4 log.
func (c *Charon) LogPath() string { return filepath.Join(c.Dir, "charon.log") }

// Log returns the log so far ("" if there is none yet).
func (c *Charon) Log() string {
	b, _ := os.ReadFile(c.LogPath())
	return string(b)
}

// Keys parses the keys charon has logged so far.
func (c *Charon) Keys() (*Keys, error) {
	f, err := os.Open(c.LogPath())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseKeys(f)
}

// Swanctl runs swanctl against this instance and returns its output; swanctl
// speaks to charon over the unix socket, so it needs no namespace.
func (c *Charon) Swanctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, SwanctlPath, args...)
	cmd.Env = append(os.Environ(),
		"STRONGSWAN_CONF="+filepath.Join(c.Dir, "strongswan.conf"),
		"SWANCTL_DIR="+filepath.Join(c.Dir, "swanctl"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("swanctl %s: %w:\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	return string(out), nil
}

// Initiate brings up child (and its IKE SA) and waits up to timeout.
func (c *Charon) Initiate(child string, timeout time.Duration) error {
	_, err := c.Swanctl("--initiate", "--child", child, "--timeout", strconv.Itoa(int(timeout.Seconds())))
	return err
}

// TerminateIKE deletes the IKE SA of connection ike (and its children).
func (c *Charon) TerminateIKE(ike string, timeout time.Duration) error {
	_, err := c.Swanctl("--terminate", "--ike", ike, "--timeout", strconv.Itoa(int(timeout.Seconds())))
	return err
}

// TerminateChild deletes the CHILD_SAs named child.
func (c *Charon) TerminateChild(child string, timeout time.Duration) error {
	_, err := c.Swanctl("--terminate", "--child", child, "--timeout", strconv.Itoa(int(timeout.Seconds())))
	return err
}

// Stop ends charon (SIGTERM, then SIGKILL after 5 s); it deletes its SAs
// first, as it does in production. Safe to call twice.
func (c *Charon) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case err := <-c.err:
		c.err <- err
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.err:
		c.err <- err
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		c.err <- <-c.err
	}
}

// tail returns the last n lines of s.
// Tail returns the last n lines of charon's log without the vici
// clients' lines (withoutVici), for a failed test's message.
func (c *Charon) Tail(n int) string { return tail(withoutVici(c.Log()), n) }

// withoutVici drops the lines charon logs for each vici client (the
// tests poll list-sas ten times a second, five lines a poll), which
// otherwise fill a failed test's tail and hide the IKE lines that say
// what went wrong.
func withoutVici(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.Contains(line, "[CFG] vici client ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
