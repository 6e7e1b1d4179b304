// Package pcapgolden writes ISAKMP datagrams into a pcap file and checks
// them with tshark, so that every message the encoders produce is proven to
// dissect cleanly by an independent implementation (Wireshark's ISAKMP
// dissector), and the result is kept as a golden file.
package pcapgolden

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
)

// Datagram is one UDP datagram to write.
type Datagram struct {
	Src, Dst         netip.Addr // IPv4 documentation addresses
	SrcPort, DstPort uint16     // 0 means 500
	// NonESPMarker prepends the four zero bytes of RFC 3948, 2.2 (port 4500).
	NonESPMarker bool
	Payload      []byte
}

// Default addresses: initiator and responder (RFC 5737 documentation range).
var (
	Initiator = netip.MustParseAddr("192.0.2.1")
	Responder = netip.MustParseAddr("198.51.100.1")
)

const (
	linkTypeEthernet = 1
	snapLen          = 65535
	// baseTime pins the packet timestamps (2026-01-01T00:00:00Z) so that the
	// pcap bytes are reproducible.
	baseTime = 1767225600
)

// WriteFile writes ds as a pcap file at path (Write).
func WriteFile(path string, ds []Datagram) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, ds); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write writes a pcap file (libpcap format, microsecond timestamps, Ethernet
// link type) holding the datagrams in order, one millisecond apart.
func Write(w io.Writer, ds []Datagram) error {
	// libpcap global header: magic, version 2.4, thiszone, sigfigs, snaplen, network.
	hdr := make([]byte, 0, 24)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0xa1b2c3d4)
	hdr = binary.LittleEndian.AppendUint16(hdr, 2)
	hdr = binary.LittleEndian.AppendUint16(hdr, 4)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0)
	hdr = binary.LittleEndian.AppendUint32(hdr, 0)
	hdr = binary.LittleEndian.AppendUint32(hdr, snapLen)
	hdr = binary.LittleEndian.AppendUint32(hdr, linkTypeEthernet)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for i, d := range ds {
		frame, err := d.frame()
		if err != nil {
			return fmt.Errorf("datagram %d: %w", i, err)
		}
		rec := make([]byte, 0, 16+len(frame))
		rec = binary.LittleEndian.AppendUint32(rec, baseTime)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(i*1000))
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(frame)))
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(frame)))
		rec = append(rec, frame...)
		if _, err := w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// frame builds Ethernet II + IPv4 (RFC 791, header checksum computed) + UDP
// (RFC 768, checksum 0 = none, legal over IPv4).
func (d Datagram) frame() ([]byte, error) {
	if !d.Src.Is4() || !d.Dst.Is4() {
		return nil, fmt.Errorf("pcapgolden: only IPv4 addresses are written, got %v > %v", d.Src, d.Dst)
	}
	sp, dp := d.SrcPort, d.DstPort
	if sp == 0 {
		sp = 500
	}
	if dp == 0 {
		dp = 500
	}
	payload := d.Payload
	if d.NonESPMarker {
		payload = append([]byte{0, 0, 0, 0}, payload...)
	}
	udpLen := 8 + len(payload)
	ipLen := 20 + udpLen
	if ipLen > 0xffff {
		return nil, fmt.Errorf("pcapgolden: datagram of %d bytes too large", len(payload))
	}
	f := make([]byte, 0, 14+ipLen)
	// Ethernet: locally administered MACs, type IPv4.
	f = append(f, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00)
	ip := []byte{0x45, 0, byte(ipLen >> 8), byte(ipLen), 0, 0, 0x40, 0, 64, 17, 0, 0}
	ip = append(ip, d.Src.AsSlice()...)
	ip = append(ip, d.Dst.AsSlice()...)
	sum := checksum(ip)
	ip[10], ip[11] = byte(sum>>8), byte(sum)
	f = append(f, ip...)
	f = binary.BigEndian.AppendUint16(f, sp)
	f = binary.BigEndian.AppendUint16(f, dp)
	f = binary.BigEndian.AppendUint16(f, uint16(udpLen))
	f = binary.BigEndian.AppendUint16(f, 0)
	return append(f, payload...), nil
}

// checksum is the Internet checksum of RFC 1071.
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
