package daemon

import (
	"net/netip"
)

// Datagram is one UDP datagram as a socket saw it: the payload, and both
// ends, so that a reply leaves from the address the peer used.
type Datagram struct {
	Data   []byte
	Local  netip.AddrPort // our address and port (IP_PKTINFO / IPV6_PKTINFO)
	Remote netip.AddrPort
}

// PacketConn is one bound UDP socket. The real one (socket.go) reads the
// destination address of every datagram; tests use an in-memory network.
type PacketConn interface {
	// ReadDatagram blocks for the next datagram; buf is reused by the
	// caller, the returned Data aliases it.
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

// nonESPMarker is the four zero octets that precede an IKE message on the
// NAT-T port, telling it from an ESP packet whose SPI is never zero
// (RFC 3948, 2.2; RFC 3947, 4).
var nonESPMarker = [4]byte{}

// natKeepalive is the one-octet NAT-keepalive packet (RFC 3948, 2.3).
const natKeepalive = 0xff

// natTFrame is what a datagram on the NAT-T port carries.
type natTFrame uint8

const (
	frameIKE       natTFrame = iota // non-ESP marker then an IKE message
	frameKeepalive                  // RFC 3948, 2.3: count and drop
	frameESP                        // an ESP packet (RFC 3948, 2.1): not ours
	frameShort                      // too short to be anything
)

func (f natTFrame) String() string {
	switch f {
	case frameIKE:
		return "ike"
	case frameKeepalive:
		return "keepalive"
	case frameESP:
		return "esp"
	case frameShort:
		return "short"
	}
	return "natTFrame(?)"
}

// unframeNATT classifies a datagram received on the NAT-T port and returns
// the IKE message without its marker (RFC 3948, 2.2 and 2.3).
func unframeNATT(b []byte) ([]byte, natTFrame) {
	switch {
	case len(b) == 1 && b[0] == natKeepalive:
		return nil, frameKeepalive
	case len(b) < len(nonESPMarker):
		return nil, frameShort
	case [4]byte(b[:4]) == nonESPMarker:
		return b[4:], frameIKE
	}
	return nil, frameESP
}

// frameNATT prepends the non-ESP marker to an IKE message sent on the NAT-T
// port (RFC 3948, 2.2).
func frameNATT(msg []byte) []byte {
	out := make([]byte, 0, len(nonESPMarker)+len(msg))
	out = append(out, nonESPMarker[:]...)
	return append(out, msg...)
}
