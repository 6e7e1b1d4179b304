package interop

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
)

// Process is a long-running program started in a namespace by a test (an
// iked binary, a UDP relay), stopped by t.Cleanup.
type Process struct {
	Name string
	t    testing.TB
	pid  int
	out  daemontest.LogBuffer
	done chan error
}

// Start runs name with args inside the namespace, with extra environment
// variables env ("K=V"), and returns at once. Its output is kept for Output
// and printed if the test fails.
func (ns *Namespace) Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := ns.Command(context.Background(), name, args...)
	p := &Process{Name: name, t: t, done: make(chan error, 1)}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %s in %s: %v", name, ns.Name, err)
	}
	p.pid = cmd.Process.Pid
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("interop: output of %s in %s:\n%s", name, ns.Name, tail(p.Output(), 60))
		}
	})
	return p
}

// Output returns what the process has written so far.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process (e.g. syscall.SIGHUP to reload iked).
func (p *Process) Signal(sig syscall.Signal) error { return syscall.Kill(p.pid, sig) }

// Stop sends SIGTERM, waits up to grace, then SIGKILL; it returns the exit
// error. Safe to call more than once.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	default:
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(grace):
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		err := <-p.done
		p.done <- err
		return fmt.Errorf("interop: %s killed after %v: %w", p.Name, grace, err)
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}
