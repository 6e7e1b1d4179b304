// Package udp defines the sockets the daemon reads and writes: a
// datagram with both of its addresses, a bound socket, and what opens
// them. The daemon's real sockets (daemon/socket.go) and the in-memory
// network of the tests (daemon/daemontest) implement them; it sits below
// package daemon so that both can.
package udp

import "net/netip"

// Datagram is one UDP datagram as a socket saw it: the payload, and both
// ends, so that a reply leaves from the address the peer used.
type Datagram struct {
	Data   []byte
	Local  netip.AddrPort // our address and port (IP_PKTINFO / IPV6_PKTINFO)
	Remote netip.AddrPort
}

// PacketConn is one bound UDP socket. The real one (daemon/socket.go)
// reads the destination address of every datagram; tests use an
// in-memory network.
type PacketConn interface {
	// ReadDatagram blocks for the next datagram; buf is reused by the
	// caller. The returned Data aliases buf or the socket's own buffers
	// (daemon/socket.go reads datagrams in batches) and is valid until
	// the next call.
	ReadDatagram(buf []byte) (Datagram, error)
	// WriteDatagram sends d.Data to d.Remote from d.Local (an invalid
	// d.Local lets the kernel choose).
	WriteDatagram(d Datagram) error
	// LocalAddr is the address the socket is bound to.
	LocalAddr() netip.AddrPort
	Close() error
}

// Network opens sockets; the daemon binds through it so that tests can
// substitute an in-memory network.
type Network interface {
	ListenUDP(addr netip.AddrPort) (PacketConn, error)
}
