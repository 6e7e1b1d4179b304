// Package unmatched drops and logs (catalog message 7) the packets of the
// policy's protected ranges that arrive without IPsec, when the policy
// sets daemon.log-unmatched. Linux lets such a packet pass and tells no
// one, so the package puts an nftables table of its own ("inet iked") in
// the input and forward hooks, whose rules drop a packet of a protected
// range that has no secpath (it was not decapsulated by XFRM) and hand it
// to an NFLOG group; the package reads that group over nfnetlink
// (include/uapi/linux/netfilter/nfnetlink_log.h), parses the packet and
// logs message 7, rate-limited per flow.
package unmatched

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Packet is what message 7 says of a dropped packet.
type Packet struct {
	Version  int // 4 or 6
	Src, Dst netip.Addr
	Proto    uint8
	// SrcPort and DstPort are the TCP/UDP/SCTP ports, or for ICMP and
	// ICMPv6 the type and code; 0 when the packet does not carry them
	// (another protocol, a later fragment, a truncated header).
	SrcPort, DstPort int
}

// ErrMalformed is a payload that is not an IP packet.
var ErrMalformed = errors.New("unmatched: not an IPv4 or IPv6 packet")

// IPProtocol is "IPv4" or "IPv6", message 7's first field.
func (p Packet) IPProtocol() string { return "IPv" + strconv.Itoa(p.Version) }

// ProtoName is the protocol as message 7 names it.
func (p Packet) ProtoName() string {
	switch p.Proto {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p.Proto))
}

// Parse reads the IP header (RFC 791, RFC 8200) and the first bytes of
// the transport header of a packet as NFLOG hands it over (from the
// network header on). It never panics; a payload too short for its IP
// header is ErrMalformed, one too short for its ports has them 0.
func Parse(b []byte) (Packet, error) {
	if len(b) < 1 {
		return Packet{}, ErrMalformed
	}
	switch b[0] >> 4 {
	case 4:
		return parse4(b)
	case 6:
		return parse6(b)
	}
	return Packet{}, ErrMalformed
}

func parse4(b []byte) (Packet, error) {
	if len(b) < 20 {
		return Packet{}, ErrMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || ihl > len(b) {
		return Packet{}, ErrMalformed
	}
	p := Packet{Version: 4, Proto: b[9],
		Src: netip.AddrFrom4([4]byte(b[12:16])), Dst: netip.AddrFrom4([4]byte(b[16:20]))}
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		return p, nil // a later fragment: no transport header
	}
	p.SrcPort, p.DstPort = ports(p.Proto, b[ihl:])
	return p, nil
}

func parse6(b []byte) (Packet, error) {
	if len(b) < 40 {
		return Packet{}, ErrMalformed
	}
	p := Packet{Version: 6, Src: netip.AddrFrom16([16]byte(b[8:24])), Dst: netip.AddrFrom16([16]byte(b[24:40]))}
	next, rest := b[6], b[40:]
	// Skip the extension headers that come before the transport header
	// (RFC 8200, 4.1); at most a few, and each must fit.
	for range 8 {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				p.Proto = next
				return p, nil
			}
			n := (int(rest[1]) + 1) * 8
			if n > len(rest) {
				p.Proto = next
				return p, nil
			}
			next, rest = rest[0], rest[n:]
			continue
		case 44: // fragment (RFC 8200, 4.5)
			if len(rest) < 8 {
				p.Proto = next
				return p, nil
			}
			later := binary.BigEndian.Uint16(rest[2:4])&0xfff8 != 0
			next, rest = rest[0], rest[8:]
			if later {
				p.Proto = next
				return p, nil
			}
			continue
		}
		break
	}
	p.Proto = next
	p.SrcPort, p.DstPort = ports(next, rest)
	return p, nil
}

// ports reads the ports of TCP, UDP, UDP-Lite and SCTP, or the type and
// code of ICMP and ICMPv6.
func ports(proto uint8, t []byte) (int, int) {
	switch proto {
	case 6, 17, 136, 132:
		if len(t) >= 4 {
			return int(binary.BigEndian.Uint16(t[0:2])), int(binary.BigEndian.Uint16(t[2:4]))
		}
	case 1, 58:
		if len(t) >= 2 {
			return int(t[0]), int(t[1])
		}
	}
	return 0, 0
}
