//go:build linux

package xfrm

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/iked/iked/interop"
)

// This package's namespaces are named xf<pid>-<n>.
func init() { interop.Prefix = "xf" }

// testNS creates a fresh network namespace with lo up (interop's), and
// deletes it when the test ends. It skips the test unless run as root
// (fails under CI=true).
func testNS(t testing.TB) (string, netns.NsHandle) {
	t.Helper()
	interop.RequireRoot(t)
	ns := interop.NewNamespace(t, "")
	return ns.Name, ns.Handle()
}

// kernelIPsec reports whether the test runs where the kernel must have
// ESP, AH and IPComp (scripts/kernel-test.sh sets IKED_KERNEL_TEST in its
// VM): there a refusal with EPROTONOSUPPORT fails the test instead of being
// the expected answer of a kernel without them.
func kernelIPsec() bool { return os.Getenv("IKED_KERNEL_TEST") != "" }

// refusedOK fails t when err is a kernel without the protocol but the test
// runs where the kernel must have it.
func refusedOK(t *testing.T, err error) {
	t.Helper()
	if kernelIPsec() {
		t.Fatalf("IKED_KERNEL_TEST is set but the kernel refused: %v", err)
	}
}

// run runs a command on the host (interop.Exec).
var run = interop.Exec

func openIn(t testing.TB, h netns.NsHandle) *Backend {
	t.Helper()
	b := New(Options{Namespace: h})
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
