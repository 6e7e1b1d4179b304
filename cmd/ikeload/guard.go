package main

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"

	"github.com/vishvananda/netns"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/udp"
)

// errOutside is what a socket of ikeload answers to a datagram for an
// address it was not told to load.
var errOutside = errors.New("ikeload: destination is not a target")

// guardNet is the network the initiating daemons bind through. It keeps
// ikeload's promise to send only to its targets (every datagram to another
// address is refused and counted), binds in the namespace it was given,
// and gives each daemon its own client port: iked's daemon sends from and
// to its one ike-port, so a daemon bound to source port P sends to the
// target's P, which guardConn rewrites to the responder's port (and back
// on receipt), as a NAT in front of many clients does with their ports.
type guardNet struct {
	inner   udp.Network
	targets map[netip.Addr]bool
	port    uint16 // the responder's IKE port
	netns   string // bind in this named namespace ("" : the current one)
	// halfOpen withholds every datagram but first messages (Config.HalfOpen).
	halfOpen bool
	withheld atomic.Uint64
	refused  atomic.Uint64
	foreign  atomic.Uint64 // datagrams from addresses that are not targets, dropped
}

func (g *guardNet) ListenUDP(addr netip.AddrPort) (udp.PacketConn, error) {
	inner := g.inner
	if inner == nil {
		inner = daemon.SystemNetwork{}
	}
	var pc udp.PacketConn
	err := inNamespace(g.netns, func() error {
		var err error
		pc, err = inner.ListenUDP(addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &guardConn{PacketConn: pc, g: g, local: addr.Port()}, nil
}

// guardConn has only the PacketConn methods: it must not offer the
// daemon WriteDatagrams (daemon/outbox.go), which would send past the
// guard (TestLoadRefusesOutside).
type guardConn struct {
	udp.PacketConn
	g     *guardNet
	local uint16 // the daemon's ike-port: its source port, and where it sends
}

func (c *guardConn) WriteDatagram(d udp.Datagram) error {
	if !c.g.targets[d.Remote.Addr().Unmap()] {
		c.g.refused.Add(1)
		return fmt.Errorf("%w: %s", errOutside, d.Remote)
	}
	if c.g.halfOpen && !firstMessage(d.Data) {
		c.g.withheld.Add(1)
		return nil
	}
	if d.Remote.Port() == c.local {
		d.Remote = netip.AddrPortFrom(d.Remote.Addr(), c.g.port)
	}
	return c.PacketConn.WriteDatagram(d)
}

func (c *guardConn) ReadDatagram(buf []byte) (udp.Datagram, error) {
	for {
		d, err := c.PacketConn.ReadDatagram(buf)
		if err != nil {
			return d, err
		}
		if !c.g.targets[d.Remote.Addr().Unmap()] {
			c.g.foreign.Add(1)
			continue
		}
		if d.Remote.Port() == c.g.port {
			d.Remote = netip.AddrPortFrom(d.Remote.Addr(), c.local)
		}
		return d, nil
	}
}

// firstMessage reports whether an ISAKMP datagram opens an exchange: its
// responder cookie (octets 8-15 of the header, RFC 2408, 3.1) is still
// zero.
func firstMessage(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	for _, c := range b[8:16] {
		if c != 0 {
			return false
		}
	}
	return true
}

// inNamespace runs fn on an OS thread switched into the named network
// namespace (name "" runs it as it is): a socket made there stays in that
// namespace.
func inNamespace(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Left locked: the runtime ends the thread with this goroutine.
		return fmt.Errorf("namespace %s: switching back: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
