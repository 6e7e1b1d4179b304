//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// KernelError is a request the kernel refused: what was asked, and the errno
// with a hint that names the likely cause. errors.Is(err, unix.EPROTONOSUPPORT)
// and the like work on it.
type KernelError struct {
	Op    string // "add SA", "update SA", "delete SA", "allocate SPI", "add policy", ...
	What  string // the SA or policy
	Errno syscall.Errno
	Hint  string
}

func (e *KernelError) Error() string {
	s := e.Op + " " + e.What + ": " + errnoText(e.Errno)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

func (e *KernelError) Unwrap() error { return e.Errno }

// errnoText is the C library's text (capitalised, as strerror prints it).
func errnoText(n syscall.Errno) string {
	s := n.Error()
	if s == "" {
		return fmt.Sprintf("errno %d", int(n))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// kernelConfig names the kernel option that provides a protocol.
func kernelConfig(p engine.Protocol, v6 bool) string {
	prefix := "CONFIG_INET_"
	if v6 {
		prefix = "CONFIG_INET6_"
	}
	switch p {
	case engine.ProtoESP:
		return prefix + "ESP"
	case engine.ProtoAH:
		return prefix + "AH"
	case engine.ProtoIPComp:
		return prefix + "IPCOMP"
	}
	return prefix + "?"
}

// wrap turns a netlink error into a KernelError with a hint; other errors
// (timeouts, a closed socket) are wrapped as they are.
func wrap(err error, op, what string, proto engine.Protocol, v6 bool) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	ke := &KernelError{Op: op, What: what, Errno: errno}
	switch errno {
	case unix.EPROTONOSUPPORT:
		ke.Hint = fmt.Sprintf("the kernel has no %s support (%s)", proto, kernelConfig(proto, v6))
	case unix.ENOSYS, unix.ENOENT:
		if op == "allocate SPI" {
			ke.Hint = "no free SPI in the requested range"
		} else if strings.Contains(op, "SA") {
			ke.Hint = "the kernel lacks one of the SA's algorithms"
		}
	case unix.EEXIST:
		ke.Hint = "already installed"
	case unix.ESRCH:
		ke.Hint = "not installed"
	case unix.EPERM, unix.EACCES:
		ke.Hint = "XFRM needs CAP_NET_ADMIN (run as root)"
	}
	return ke
}
