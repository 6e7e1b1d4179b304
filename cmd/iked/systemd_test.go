package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
)

// The systemd tests run the real binary in a network namespace with the
// service manager's sockets played by unixgram sockets the test binds:
// NOTIFY_SOCKET (sd_notify(3)) and the journal's native socket
// (systemd.journal-fields(7)), which iked finds at its fixed path inside a
// mount namespace of its own.

// datagramSocket binds a unixgram socket at dir/name.
func datagramSocket(t *testing.T, dir, name string) *net.UnixConn {
	t.Helper()
	path := filepath.Join(dir, name)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextDatagram returns the next datagram, or fails after limit.
func nextDatagram(t *testing.T, c *net.UnixConn, limit time.Duration, what string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	c.SetReadDeadline(time.Now().Add(limit))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return string(buf[:n])
}

// awaitState reads notifications until one whose first line is want,
// skipping watchdog pings; it fails on any other state.
func awaitState(t *testing.T, c *net.UnixConn, want string, log *daemontest.LogBuffer) string {
	t.Helper()
	for {
		d := nextDatagram(t, c, 10*time.Second, want)
		first, _, _ := strings.Cut(d, "\n")
		switch first {
		case want:
			return d
		case "WATCHDOG=1":
			continue
		}
		t.Fatalf("notification %q while waiting for %s\nlog:\n%s", d, want, log.String())
	}
}

// launch starts r.cmd; the process is killed at the end of the test if
// it still runs.
func (r *daemonRun) launch() {
	r.t.Helper()
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	r.t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			<-r.done
		}
	})
}

// startNotified starts iked in namespace a with env added, its output to
// out (the log buffer when nil), behind the wrap command if any.
func startNotified(t *testing.T, tp topology, env []string, out *os.File, wrap ...string) *daemonRun {
	t.Helper()
	iked, ikectl := binaries(t)
	dir := t.TempDir()
	r := &daemonRun{t: t, log: &daemontest.LogBuffer{}, sock: filepath.Join(dir, "run", "iked.sock"),
		policy: filepath.Join(dir, "iked.yaml"), ikectl: ikectl, done: make(chan error, 1)}
	r.writePolicy("none", "branch")
	args := append([]string{"netns", "exec", tp.a}, wrap...)
	r.cmd = exec.Command("ip", append(args, iked, "-config", r.policy)...)
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if out != nil {
		r.cmd.Stdout, r.cmd.Stderr = out, out
	}
	r.launch()
	return r
}

// TestSystemdNotify: READY=1 once iked listens, WATCHDOG=1 pings at half
// WATCHDOG_USEC, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a
// SIGHUP reload, READY=1 again after a refused reload, STOPPING=1 on
// SIGTERM.
func TestSystemdNotify(t *testing.T) {
	needRoot(t)
	tp := newTopology(t)
	dir := t.TempDir()
	ns := datagramSocket(t, dir, "notify")
	r := startNotified(t, tp, []string{"NOTIFY_SOCKET=" + filepath.Join(dir, "notify"), "WATCHDOG_USEC=400000"}, nil)

	awaitState(t, ns, "READY=1", r.log)
	// The log is copied from a pipe, so it may trail the notification.
	r.waitLog("iked started", 5*time.Second)
	if ss := sh(t, "ip", "netns", "exec", tp.a, "ss", "-ulpn"); !strings.Contains(ss, "0.0.0.0:500 ") {
		t.Fatalf("READY=1 but UDP 500 is not bound:\n%s", ss)
	}
	// Pings every 200 ms: a few must come within two seconds.
	pings := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && pings < 3; {
		if d := nextDatagram(t, ns, 2*time.Second, "WATCHDOG=1"); d == "WATCHDOG=1" {
			pings++
		} else {
			t.Fatalf("notification %q, want WATCHDOG=1", d)
		}
	}
	if pings < 3 {
		t.Fatalf("%d watchdog pings in 2 s with WATCHDOG_USEC=400000", pings)
	}

	r.writePolicy("none", "branch2")
	r.cmd.Process.Signal(syscall.SIGHUP)
	rl := awaitState(t, ns, "RELOADING=1", r.log)
	if !strings.Contains(rl, "\nMONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", rl)
	}
	awaitState(t, ns, "READY=1", r.log)
	if c := r.ctl("list-conns").Conns; len(c) != 1 || c[0].Name != "branch2" {
		t.Fatalf("after the reload: %+v", c)
	}

	// A broken file: the reload is refused, the service is ready again.
	os.WriteFile(r.policy, []byte("connections: [\n"), 0o600)
	r.cmd.Process.Signal(syscall.SIGHUP)
	awaitState(t, ns, "RELOADING=1", r.log)
	if d := awaitState(t, ns, "READY=1", r.log); !strings.Contains(d, "refused") {
		t.Errorf("READY=1 after a refused reload says %q", d)
	}

	r.cmd.Process.Signal(syscall.SIGTERM)
	awaitState(t, ns, "STOPPING=1", r.log)
	if code := r.exitCode(15 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.log.String())
	}
}

// journalEntries parses the journal's native datagrams: KEY=value lines,
// or KEY, a newline, a 64-bit little-endian length and the value for a
// value with a newline (systemd's native protocol).
func journalEntry(t *testing.T, d []byte) map[string]string {
	t.Helper()
	e := map[string]string{}
	for len(d) > 0 {
		nl := bytes.IndexByte(d, '\n')
		if nl < 0 {
			t.Fatalf("journal datagram without a final newline: %q", d)
		}
		line := d[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			e[string(k)] = string(v)
			d = d[nl+1:]
			continue
		}
		d = d[nl+1:]
		if len(d) < 8 {
			t.Fatalf("journal field %q without a length", line)
		}
		n := binary.LittleEndian.Uint64(d)
		if uint64(len(d)-8) < n+1 {
			t.Fatalf("journal field %q: %d bytes announced", line, n)
		}
		e[string(line)] = string(d[8 : 8+n])
		d = d[8+n+1:]
	}
	return e
}

// TestJournalFields: with standard error on the journal (JOURNAL_STREAM),
// iked writes native entries to the journal's socket, the catalog number
// in IKED_CATALOG, and no lines on standard error.
func TestJournalFields(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	tp := newTopology(t)
	dir := t.TempDir()
	js := datagramSocket(t, dir, "journal")
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	// A mount namespace with its own /run, where the journal's socket is
	// a link to the test's.
	wrap := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
		fmt.Sprintf(`mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && ln -s %s /run/systemd/journal/socket && exec "$@"`,
			filepath.Join(dir, "journal")), "sh"}
	r := startNotified(t, tp, []string{fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)}, stderr, wrap...)

	// The daemon's start: messages 1 and 2, then "iked started".
	var entries []map[string]string
	for !hasEntry(entries, "MESSAGE", "iked started") {
		entries = append(entries, journalEntry(t, []byte(nextDatagram(t, js, 10*time.Second, "the start-up entries"))))
	}
	e1 := findEntry(t, entries, "IKED_CATALOG", "1")
	if e1["SYSLOG_IDENTIFIER"] != "iked" || e1["PRIORITY"] != "6" || !strings.HasPrefix(e1["MESSAGE"], "IPSEC: Initializing engine") {
		t.Errorf("message 1 in the journal: %v", e1)
	}
	started := findEntry(t, entries, "MESSAGE", "iked started")
	if started["IKED_POLICY"] != r.policy || started["IKED_LISTENING"] == "" || started["IKED_PID"] == "" {
		t.Errorf("the start entry's fields: %v", started)
	}

	r.cmd.Process.Signal(syscall.SIGTERM)
	for !hasEntry(entries, "IKED_CATALOG", "3") {
		entries = append(entries, journalEntry(t, []byte(nextDatagram(t, js, 10*time.Second, "message 3"))))
	}
	if code := r.exitCode(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if out, _ := os.ReadFile(stderr.Name()); len(out) != 0 {
		t.Errorf("standard error has lines besides the journal:\n%s", out)
	}
}

func hasEntry(es []map[string]string, k, prefix string) bool {
	for _, e := range es {
		if v, ok := e[k]; ok && strings.HasPrefix(v, prefix) && (k != "IKED_CATALOG" || v == prefix) {
			return true
		}
	}
	return false
}

func findEntry(t *testing.T, es []map[string]string, k, prefix string) map[string]string {
	t.Helper()
	for _, e := range es {
		if v, ok := e[k]; ok && strings.HasPrefix(v, prefix) && (k != "IKED_CATALOG" || v == prefix) {
			return e
		}
	}
	t.Fatalf("no journal entry with %s=%s in %v", k, prefix, es)
	return nil
}
