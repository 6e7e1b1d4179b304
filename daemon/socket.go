package daemon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// SystemNetwork binds real UDP sockets. Each socket asks the kernel for the
// destination address of every datagram (IP_PKTINFO, IPV6_RECVPKTINFO),
// because a daemon bound to a wildcard address must answer from the address
// the peer wrote to, or the peer's NAT and its cookie check both fail.
type SystemNetwork struct{}

// socketReadBuffer is the receive buffer the IKE sockets ask for.
const socketReadBuffer = 4 << 20

// ListenUDP binds addr. An IPv6 socket is IPv6 only (Go sets IPV6_V6ONLY
// for "udp6"), so "0.0.0.0" and "::" can both be bound on the same port.
func (SystemNetwork) ListenUDP(addr netip.AddrPort) (PacketConn, error) {
	network := "udp4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	// A burst of first messages (many clients behind one NAT after an
	// outage) must wait in the socket, not be lost to its default
	// buffer (net.core.rmem_default, ~200 KiB: some 270 datagrams); the
	// kernel caps the size at net.core.rmem_max. Best effort.
	_ = c.SetReadBuffer(socketReadBuffer)
	bound := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if network == "udp4" {
		p := ipv4.NewPacketConn(c)
		if err := p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("IP_PKTINFO on %s: %w", addr, err)
		}
		return &udp4Conn{c: c, p: p, bound: bound}, nil
	}
	p := ipv6.NewPacketConn(c)
	if err := p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("IPV6_RECVPKTINFO on %s: %w", addr, err)
	}
	return &udp6Conn{c: c, p: p, bound: bound}, nil
}

type udp4Conn struct {
	c     *net.UDPConn
	p     *ipv4.PacketConn
	bound netip.AddrPort
	batch
	out sendBatch
}

func (u *udp4Conn) ReadDatagram([]byte) (Datagram, error) {
	if u.hs == nil {
		if err := u.alloc(u.c, len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface))); err != nil {
			return Datagram{}, err
		}
	}
	i, err := u.next()
	if err != nil {
		return Datagram{}, err
	}
	d := Datagram{Data: u.data(i), Local: u.bound}
	if ap, ok := u.source(i); ok {
		d.Remote = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a, _, ok := pktinfo(u.control(i)); ok {
		d.Local = netip.AddrPortFrom(a.Unmap(), u.bound.Port())
	}
	return d, nil
}

// pktinfo returns the destination address of a datagram and the index of
// the interface it came in on, from the IP_PKTINFO (ip(7): struct
// in_pktinfo, whose ipi_addr is the header's destination) or
// IPV6_PKTINFO (RFC 3542, 6.1: struct in6_pktinfo) among its control
// messages (cmsg(3)); ok is false when there is none or the messages do
// not parse. It does what x/net's ControlMessage.Parse did here without
// its allocations (a slice of the messages and the address, for every
// datagram).
func pktinfo(oob []byte) (dst netip.Addr, ifindex uint32, ok bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return netip.Addr{}, 0, false
		}
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			dst = netip.AddrFrom4([4]byte(data[8:12]))
			ifindex, ok = binary.NativeEndian.Uint32(data[0:4]), true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			dst = netip.AddrFrom16([16]byte(data[0:16]))
			ifindex, ok = binary.NativeEndian.Uint32(data[16:20]), true
		}
		oob = rest
	}
	return dst, ifindex, ok
}

// WriteDatagram sends d alone, as a batch of one (socket_batch.go: the
// call does not enter the Go scheduler's system call state).
func (u *udp4Conn) WriteDatagram(d Datagram) error {
	ds := [1]Datagram{d}
	_, err := u.WriteDatagrams(ds[:])
	return err
}

// writeAlone sends d with the standard library's sendmsg, which takes the
// address as it is (x/net's WriteTo allocated a net.UDPAddr, a sockaddr
// and its buffers for every datagram): the datagrams a batch cannot
// address.
func (u *udp4Conn) writeAlone(d Datagram) error {
	_, _, err := u.c.WriteMsgUDPAddrPort(d.Data, u.srcControl(d), d.Remote)
	return err
}

// srcControl is the control message that sends d from its local address,
// when the socket is bound to the wildcard address; else nil.
func (u *udp4Conn) srcControl(d Datagram) []byte {
	if d.Local.Addr().IsValid() && !d.Local.Addr().IsUnspecified() && u.bound.Addr().IsUnspecified() {
		return (&ipv4.ControlMessage{Src: d.Local.Addr().AsSlice()}).Marshal()
	}
	return nil
}

// WriteDatagrams sends ds with sendmmsg(2) (outbox.go).
func (u *udp4Conn) WriteDatagrams(ds []Datagram) (int, error) {
	return u.out.write(u.c, ds, func(sa []byte, d Datagram) (int, []byte) {
		return sockaddr4(sa, d), u.srcControl(d)
	}, u.writeAlone)
}

func (u *udp4Conn) LocalAddr() netip.AddrPort { return u.bound }
func (u *udp4Conn) Close() error              { return u.c.Close() }

type udp6Conn struct {
	c     *net.UDPConn
	p     *ipv6.PacketConn
	bound netip.AddrPort
	batch
	out sendBatch
}

func (u *udp6Conn) ReadDatagram([]byte) (Datagram, error) {
	if u.hs == nil {
		if err := u.alloc(u.c, len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface))); err != nil {
			return Datagram{}, err
		}
	}
	i, err := u.next()
	if err != nil {
		return Datagram{}, err
	}
	d := Datagram{Data: u.data(i), Local: u.bound}
	if ap, ok := u.source(i); ok {
		d.Remote = ap
	}
	if a, ifindex, ok := pktinfo(u.control(i)); ok {
		if ifindex != 0 && a.IsLinkLocalUnicast() {
			a = a.WithZone(strconv.FormatUint(uint64(ifindex), 10))
		}
		d.Local = netip.AddrPortFrom(a, u.bound.Port())
	}
	return d, nil
}

// WriteDatagram sends d alone, as a batch of one (socket_batch.go: the
// call does not enter the Go scheduler's system call state).
func (u *udp6Conn) WriteDatagram(d Datagram) error {
	ds := [1]Datagram{d}
	_, err := u.WriteDatagrams(ds[:])
	return err
}

// writeAlone sends d with the standard library's sendmsg, which takes the
// address as it is (x/net's WriteTo allocated a net.UDPAddr, a sockaddr
// and its buffers for every datagram): the datagrams a batch cannot
// address.
func (u *udp6Conn) writeAlone(d Datagram) error {
	_, _, err := u.c.WriteMsgUDPAddrPort(d.Data, u.srcControl(d), d.Remote)
	return err
}

// srcControl is the control message that sends d from its local address,
// when the socket is bound to the wildcard address; else nil.
func (u *udp6Conn) srcControl(d Datagram) []byte {
	if d.Local.Addr().IsValid() && !d.Local.Addr().IsUnspecified() && u.bound.Addr().IsUnspecified() {
		return (&ipv6.ControlMessage{Src: d.Local.Addr().AsSlice()}).Marshal()
	}
	return nil
}

// WriteDatagrams sends ds with sendmmsg(2) (outbox.go).
func (u *udp6Conn) WriteDatagrams(ds []Datagram) (int, error) {
	return u.out.write(u.c, ds, func(sa []byte, d Datagram) (int, []byte) {
		return sockaddr6(sa, d), u.srcControl(d)
	}, u.writeAlone)
}

func (u *udp6Conn) LocalAddr() netip.AddrPort { return u.bound }
func (u *udp6Conn) Close() error              { return u.c.Close() }

// isClosed reports whether err comes from reading a closed socket.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// Linux UDP socket options for ESP in UDP (linux/udp.h).
const (
	solUDP           = 17 // SOL_UDP
	udpEncap         = 100
	udpEncapESPInUDP = 2 // RFC 3948
)

// espInUDP is what a socket offers when the kernel can decapsulate ESP on
// it: with UDP_ENCAP_ESPINUDP set on the NAT-T socket, the kernel takes the
// ESP packets (non-zero SPI) and keepalives for itself and passes up only
// the IKE messages, marker included (RFC 3948, 2.2).
type espInUDP interface{ SetESPInUDP() error }

func setEncap(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), solUDP, udpEncap, udpEncapESPInUDP)
	}); err != nil {
		return err
	}
	return serr
}

func (u *udp4Conn) SetESPInUDP() error { return setEncap(u.c) }
func (u *udp6Conn) SetESPInUDP() error { return setEncap(u.c) }

// Linux per-socket IPsec policies (linux/in.h, linux/in6.h, linux/xfrm.h).
const (
	ipXfrmPolicy   = 17 // IP_XFRM_POLICY
	ipv6XfrmPolicy = 35 // IPV6_XFRM_POLICY
	// struct xfrm_userpolicy_info: the selector (56 bytes, family at 40),
	// the lifetime limits (8 x 64 bits), the current lifetime (32 bytes),
	// priority, index, then dir and action (0: XFRM_POLICY_ALLOW).
	sizeUserPolicy = 168
	offPolicyDir   = 160
)

// ipsecBypass is what a socket offers when its packets can be exempted
// from the kernel's IPsec policies.
type ipsecBypass interface{ SetIPsecBypass() error }

// setBypass gives the socket an "allow" policy for each direction, which
// the kernel applies to the socket's packets instead of the SPD's, so that
// IKE messages pass in clear whatever SAs protect the two hosts' traffic
// (a transport-mode SA between the IKE peers would otherwise take them in,
// or drop them before an SA exists).
func setBypass(c *net.UDPConn, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	level, opt, family := syscall.IPPROTO_IP, ipXfrmPolicy, uint16(syscall.AF_INET)
	if v6 {
		level, opt, family = syscall.IPPROTO_IPV6, ipv6XfrmPolicy, syscall.AF_INET6
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for dir := byte(0); dir < 2 && serr == nil; dir++ { // XFRM_POLICY_IN, XFRM_POLICY_OUT
			pol := make([]byte, sizeUserPolicy)
			binary.NativeEndian.PutUint16(pol[40:], family)
			for i := 56; i < 56+4*8; i++ { // byte and packet limits: XFRM_INF
				pol[i] = 0xff
			}
			pol[offPolicyDir] = dir
			serr = syscall.SetsockoptString(int(fd), level, opt, string(pol))
		}
	}); err != nil {
		return err
	}
	return serr
}

func (u *udp4Conn) SetIPsecBypass() error { return setBypass(u.c, false) }
func (u *udp6Conn) SetIPsecBypass() error { return setBypass(u.c, true) }

func (d *Daemon) bind() error {
	ports := []struct {
		port uint16
		natt bool
	}{{d.settings.IKEPort, false}}
	if d.settings.NATTPort != 0 {
		ports = append(ports, struct {
			port uint16
			natt bool
		}{d.settings.NATTPort, true})
	}
	for _, a := range d.settings.Listen {
		for _, p := range ports {
			pc, err := d.opt.Network.ListenUDP(netip.AddrPortFrom(a, p.port))
			if err != nil {
				d.closeSockets()
				return fmt.Errorf("%s port %d: %w", a, p.port, err)
			}
			if d.settings.IPsecBypass {
				if e, ok := pc.(ipsecBypass); ok {
					if err := e.SetIPsecBypass(); err != nil {
						pc.Close()
						d.closeSockets()
						return fmt.Errorf("IPsec bypass policy on %s port %d: %w", a, p.port, err)
					}
				}
			}
			if p.natt && d.settings.ESPInUDP {
				if e, ok := pc.(espInUDP); ok {
					if err := e.SetESPInUDP(); err != nil {
						pc.Close()
						d.closeSockets()
						return fmt.Errorf("UDP_ENCAP on %s port %d: %w", a, p.port, err)
					}
				}
			}
			d.conns = append(d.conns, &boundConn{pc: pc, natt: p.natt})
		}
	}
	return nil
}

func (d *Daemon) closeSockets() {
	for _, bc := range d.conns {
		bc.pc.Close()
	}
}

func (d *Daemon) listening() []string {
	var out []string
	for _, bc := range d.conns {
		out = append(out, bc.pc.LocalAddr().String())
	}
	return out
}
