package daemon

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// memNet is an in-memory UDP network for the loop tests: datagrams go to the
// socket bound to the destination (or to the wildcard of its port), and the
// receiver sees the destination as its local address, as IP_PKTINFO says.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
}

func newMemNet() *memNet { return &memNet{conns: map[netip.AddrPort]*memConn{}} }

type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	inbox  chan Datagram
	closed chan struct{}
	once   sync.Once
}

func (n *memNet) ListenUDP(addr netip.AddrPort) (PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, used := n.conns[addr]; used {
		return nil, errors.New("address in use")
	}
	c := &memConn{n: n, addr: addr, inbox: make(chan Datagram, 1024), closed: make(chan struct{})}
	n.conns[addr] = c
	return c, nil
}

func (c *memConn) ReadDatagram(buf []byte) (Datagram, error) {
	select {
	case d := <-c.inbox:
		n := copy(buf, d.Data)
		d.Data = buf[:n]
		return d, nil
	case <-c.closed:
		return Datagram{}, net.ErrClosed
	}
}

func (c *memConn) WriteDatagram(d Datagram) error {
	src := d.Local
	if !src.Addr().IsValid() || src.Addr().IsUnspecified() {
		src = c.addr
	}
	src = netip.AddrPortFrom(src.Addr(), c.addr.Port())
	c.n.mu.Lock()
	dst := c.n.conns[d.Remote]
	if dst == nil {
		var wild netip.Addr
		if d.Remote.Addr().Is4() {
			wild = netip.IPv4Unspecified()
		} else {
			wild = netip.IPv6Unspecified()
		}
		dst = c.n.conns[netip.AddrPortFrom(wild, d.Remote.Port())]
	}
	c.n.mu.Unlock()
	if dst == nil {
		return nil // nobody listens: lost, as UDP
	}
	select {
	case dst.inbox <- Datagram{Data: append([]byte(nil), d.Data...), Local: d.Remote, Remote: src}:
	default: // a full queue drops, as UDP
	}
	return nil
}

func (c *memConn) LocalAddr() netip.AddrPort { return c.addr }

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.n.mu.Lock()
		delete(c.n.conns, c.addr)
		c.n.mu.Unlock()
	})
	return nil
}
