package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Prefix starts every namespace this process creates. Set it before the first
// topology (e.g. in TestMain) when several engineers' suites share a machine;
// the pid and a counter follow it, so parallel tests and parallel test
// binaries never pick the same name.
var Prefix = "it"

var nsCounter atomic.Uint32

// nextID returns a small number unique in this process, used in names and to
// spread topologies over the documentation address ranges.
func nextID() int { return int(nsCounter.Add(1)) }

// Namespace is a network namespace created by a test, with its name under
// /var/run/netns so that `ip netns exec` and setns can enter it.
type Namespace struct {
	Name string
	t    testing.TB
}

var staleOnce sync.Once

// removeStale deletes namespaces of this prefix whose creating process is
// gone: a test binary killed by -timeout never runs its t.Cleanup. Only
// names of the form Prefix+pid+"-"... with a dead pid are touched.
func removeStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], Prefix) {
			continue
		}
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(f[0], Prefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pidStr); err == nil {
			continue // alive (or a pid that wrapped: leave it)
		}
		_ = exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// NewNamespace creates a namespace named Prefix+pid+"-"+id+role and brings
// its loopback up; t.Cleanup kills what still runs in it and deletes it.
func NewNamespace(t testing.TB, role string) *Namespace {
	t.Helper()
	staleOnce.Do(removeStale)
	name := fmt.Sprintf("%s%d-%d%s", Prefix, os.Getpid(), nextID(), role)
	ns := &Namespace{Name: name, t: t}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("interop: ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(ns.destroy)
	ns.MustRun("ip", "link", "set", "lo", "up")
	return ns
}

// Poll calls done every interval until it returns true, for timeout at
// most; it reports whether done returned true.
func Poll(timeout, interval time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Exec runs a command on the host and returns its combined output; an
// error fails t, with the output.
func Exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Handle opens the namespace for netlink from this process
// (vishvananda/netns); it is closed when the test ends, before the
// namespace goes.
func (ns *Namespace) Handle() netns.NsHandle {
	ns.t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		ns.t.Fatalf("interop: %s: %v", ns.Name, err)
	}
	ns.t.Cleanup(func() { h.Close() })
	return h
}

// destroy kills the processes left in the namespace (they are the test's
// own: nobody else knows the name) and deletes it.
func (ns *Namespace) destroy() {
	out, _ := exec.Command("ip", "netns", "pids", ns.Name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	var last []byte
	for range 20 {
		o, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput()
		if err == nil {
			return
		}
		last = o
		time.Sleep(50 * time.Millisecond)
	}
	ns.t.Errorf("interop: ip netns del %s: %s", ns.Name, last)
}

// Command returns a command that runs inside the namespace.
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (ns *Namespace) Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var b bytes.Buffer
	cmd := ns.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns.Name, err, b.Bytes())
	}
	return b.String(), err
}

// MustRun is Run that fails the test on error.
func (ns *Namespace) MustRun(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		ns.t.Fatalf("interop: %v", err)
	}
	return out
}

// Do runs fn on an OS thread switched into the namespace, so that in-process
// code (an iked daemon under test) can open its sockets there: a socket stays
// in the namespace it was created in after the thread switches back.
func (ns *Namespace) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("interop: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("interop: netns %s: %w", ns.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("interop: setns %s: %w", ns.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is in the wrong namespace: leave it locked so the
		// runtime destroys it when this goroutine ends.
		return fmt.Errorf("interop: setns back from %s: %w", ns.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
