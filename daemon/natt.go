package daemon

import (
	"github.com/iked/iked/daemon/udp"
)

// Datagram, PacketConn and Network are package udp's: the sockets the
// daemon binds (socket.go) and the in-memory network of the tests
// (daemon/daemontest) both implement them.
type (
	Datagram   = udp.Datagram
	PacketConn = udp.PacketConn
	Network    = udp.Network
)

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
