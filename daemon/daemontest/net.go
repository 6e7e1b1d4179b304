package daemontest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/iked/iked/daemon/udp"
)

// Sent is one datagram as it crossed the network: numbered in sending
// order from 0, with its addresses as seen outside any NAT, when it was
// sent (on the clock of the synctest bubble the sender runs in), and
// whether the network lost it.
type Sent struct {
	N        int
	From, To netip.AddrPort
	Data     []byte
	At       time.Time
	Lost     bool
	// Batch numbers the batch the datagram left in, from 1, when its
	// socket sent several with one call (Net.Batching); 0 when it left
	// alone.
	Batch int
}

// MaxDatagrams bounds what one Net carries. Two daemons that answer each
// other without end, or a timer re-armed for ever in the bubble's virtual
// time, would otherwise grow the test's memory until the machine kills the
// binary without a word; past the bound the test binary stops with every
// goroutine's stack instead.
const MaxDatagrams = 1_000_000

// NATPortShift is how far a NAT moves the source port of what leaves it
// (NAT).
const NATPortShift = 10000

// Net is an in-memory UDP network. A datagram goes to the socket bound to
// its destination (or to the wildcard address of its port) and the
// receiver sees the destination as its local address, as IP_PKTINFO
// says. A full queue or a port nobody listens on loses it, as UDP does.
// The zero Net is ready to use.
type Net struct {
	// Batching makes the sockets bound after it is set send in batches
	// as the system's do (WriteDatagrams; daemon/outbox.go), so that the
	// daemon holds what it sends while it is busy and sends it together.
	Batching bool

	mu      sync.Mutex
	batches int
	conns   map[netip.AddrPort]*conn
	sent    []Sent
	silent  map[netip.Addr]bool
	drop    func(Sent) bool
	delay   func(Sent) time.Duration
	inside  []netip.Addr // behind the NAT, in the order NAT named them
	public  netip.Addr
}

// SetDrop makes the network lose the datagrams for which f is true (nil:
// none). f runs under the network's lock, one datagram at a time.
func (n *Net) SetDrop(f func(Sent) bool) {
	n.mu.Lock()
	n.drop = f
	n.mu.Unlock()
}

// SetDelay delays each datagram by what f returns (nil: none), on the
// clock of the synctest bubble the sender runs in.
func (n *Net) SetDelay(f func(Sent) time.Duration) {
	n.mu.Lock()
	n.delay = f
	n.mu.Unlock()
}

// Silence makes a host lose (on) or again deliver everything it sends, as
// when it dies without a word.
func (n *Net) Silence(host netip.Addr, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.silent == nil {
		n.silent = map[netip.Addr]bool{}
	}
	n.silent[host] = on
}

// NAT puts the host inside behind a masquerading NAT whose outside address
// is public: what it sends leaves from public with the source port moved
// up by NATPortShift, and what comes to public on such a port goes back
// in. Called again with another inside host, it puts that one behind the
// same NAT too, the k-th (from 1) with its ports moved by k*NATPortShift:
// several clients share one public address, each on its own ports.
func (n *Net) NAT(inside, public netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.public = public
	for _, a := range n.inside {
		if a == inside {
			return
		}
	}
	n.inside = append(n.inside, inside)
}

// Count returns how many datagrams that crossed the network (lost or not)
// match f.
func (n *Net) Count(f func(Sent) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, s := range n.sent {
		if f(s) {
			k++
		}
	}
	return k
}

// ListenUDP binds a socket on the network (udp.Network).
func (n *Net) ListenUDP(a netip.AddrPort) (udp.PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = map[netip.AddrPort]*conn{}
	}
	if n.conns[a] != nil {
		return nil, errors.New("address in use")
	}
	c := &conn{n: n, addr: a, inbox: make(chan udp.Datagram, 1024), closed: make(chan struct{})}
	n.conns[a] = c
	if n.Batching {
		return &batchConn{c}, nil
	}
	return c, nil
}

// batchConn is a socket of a Net that sends in batches.
type batchConn struct{ *conn }

// WriteDatagrams sends ds in order as one batch.
func (c *batchConn) WriteDatagrams(ds []udp.Datagram) (int, error) {
	c.n.mu.Lock()
	c.n.batches++
	b := c.n.batches
	c.n.mu.Unlock()
	for i, d := range ds {
		if err := c.write(d, b); err != nil {
			return i, err
		}
	}
	return len(ds), nil
}

// route returns the socket bound to dst or to the wildcard of its port.
// Call it with n.mu held.
func (n *Net) route(dst netip.AddrPort) *conn {
	if c := n.conns[dst]; c != nil {
		return c
	}
	wild := netip.IPv4Unspecified()
	if dst.Addr().Is6() && !dst.Addr().Is4In6() {
		wild = netip.IPv6Unspecified()
	}
	return n.conns[netip.AddrPortFrom(wild, dst.Port())]
}

type conn struct {
	n      *Net
	addr   netip.AddrPort
	inbox  chan udp.Datagram
	closed chan struct{}
	once   sync.Once
}

func (c *conn) ReadDatagram(buf []byte) (udp.Datagram, error) {
	select {
	case d := <-c.inbox:
		d.Data = buf[:copy(buf, d.Data)]
		return d, nil
	case <-c.closed:
		return udp.Datagram{}, net.ErrClosed
	}
}

func (c *conn) WriteDatagram(d udp.Datagram) error { return c.write(d, 0) }

// write sends d, in batch number batch (0: alone).
func (c *conn) write(d udp.Datagram, batch int) error {
	n := c.n
	src := d.Local
	if !src.Addr().IsValid() || src.Addr().IsUnspecified() {
		src = c.addr
	}
	src = netip.AddrPortFrom(src.Addr(), c.addr.Port())
	n.mu.Lock()
	if n.silent[src.Addr()] {
		n.mu.Unlock()
		return nil
	}
	for k, a := range n.inside {
		if src.Addr() == a {
			src = netip.AddrPortFrom(n.public, src.Port()+uint16(k+1)*NATPortShift)
			break
		}
	}
	dst := d.Remote
	if n.public.IsValid() && dst.Addr() == n.public && dst.Port() > NATPortShift {
		if k := int(dst.Port()/NATPortShift) - 1; k < len(n.inside) {
			dst = netip.AddrPortFrom(n.inside[k], dst.Port()-uint16(k+1)*NATPortShift)
		}
	}
	s := Sent{N: len(n.sent), From: src, To: d.Remote, Data: append([]byte(nil), d.Data...), At: time.Now(), Batch: batch}
	s.Lost = n.drop != nil && n.drop(s)
	n.sent = append(n.sent, s)
	if len(n.sent) > MaxDatagrams {
		last := n.sent[len(n.sent)-8:]
		n.mu.Unlock()
		runaway(fmt.Sprintf("more than %d datagrams crossed the in-memory network; the last: %s", MaxDatagrams, describe(last)))
	}
	var wait time.Duration
	if n.delay != nil && !s.Lost {
		wait = n.delay(s)
	}
	to := n.route(dst)
	n.mu.Unlock()
	if to == nil || s.Lost {
		return nil
	}
	out := udp.Datagram{Data: s.Data, Local: dst, Remote: src}
	if wait > 0 {
		time.AfterFunc(wait, func() { to.deliver(out) })
	} else {
		to.deliver(out)
	}
	return nil
}

// deliver queues d, or loses it when the queue is full or the socket
// closed.
func (c *conn) deliver(d udp.Datagram) {
	select {
	case <-c.closed:
	case c.inbox <- d:
	default:
	}
}

func (c *conn) LocalAddr() netip.AddrPort { return c.addr }

func (c *conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.n.mu.Lock()
		if c.n.conns[c.addr] == c {
			delete(c.n.conns, c.addr)
		}
		c.n.mu.Unlock()
	})
	return nil
}

// Drain returns the datagrams queued at c, a socket of a Net, without
// waiting for more.
func Drain(c udp.PacketConn) []udp.Datagram {
	mc, ok := c.(*conn)
	if !ok {
		mc = c.(*batchConn).conn
	}
	var out []udp.Datagram
	for {
		select {
		case d := <-mc.inbox:
			out = append(out, d)
		default:
			return out
		}
	}
}

// Sent returns the datagrams that crossed the network so far.
func (n *Net) Sent() []Sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Sent(nil), n.sent...)
}

// Inject sends data from the socket bound to from, as an attacker on the
// wire who captured it would; it fails if nothing is bound there.
func (n *Net) Inject(from, to netip.AddrPort, data []byte) error {
	n.mu.Lock()
	c := n.conns[from]
	n.mu.Unlock()
	if c == nil {
		return errors.New("daemontest: nothing bound to " + from.String())
	}
	return c.WriteDatagram(udp.Datagram{Data: data, Remote: to})
}
