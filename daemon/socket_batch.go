package daemon

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iked/iked/isakmp"
)

// batchSize is how many datagrams one read takes from a socket at most
// (recvmmsg(2)): under load several wait, and one system call for all of
// them is cheaper than one each. Each slot holds the largest datagram;
// the kernel touches only the pages it fills.
const batchSize = 8

// batch is a socket's batch of received datagrams, read with one
// recvmmsg(2) and handed out one per ReadDatagram: the data of one stays
// valid until the next call, as PacketConn asks. Only the socket's reader
// goroutine uses it.
//
// It makes the system call itself, through the socket's RawConn, where
// x/net's ReadBatch (which it replaces) returned the source of every
// datagram as a new *net.UDPAddr and its IP, two allocations a datagram;
// here the source is read from the sockaddr into a netip.AddrPort.
type batch struct {
	rc    syscall.RawConn
	hs    []unix.Mmsghdr // each points at its slot's iovec, name and control buffer
	iovs  []unix.Iovec
	names [][unix.SizeofSockaddrInet6]byte // sockaddr_in or sockaddr_in6
	bufs  [][]byte
	oobs  [][]byte
	n, i  int
	// recv is the RawConn.Read callback, made once (a closure per read
	// would be an allocation); it leaves the number of datagrams read or
	// the error in got and errno.
	recv  func(fd uintptr) bool
	got   int
	errno syscall.Errno
}

// alloc makes the batch's slots for the socket c, with oob bytes for the
// control messages the socket asked for.
func (b *batch) alloc(c *net.UDPConn, oob int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	b.rc = rc
	b.hs = make([]unix.Mmsghdr, batchSize)
	b.iovs = make([]unix.Iovec, batchSize)
	b.names = make([][unix.SizeofSockaddrInet6]byte, batchSize)
	b.bufs = make([][]byte, batchSize)
	b.oobs = make([][]byte, batchSize)
	for i := range b.hs {
		b.bufs[i] = make([]byte, isakmp.MaxMessageSize+1)
		b.oobs[i] = make([]byte, max(oob, 1))
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hs[i].Hdr
		h.Name = &b.names[i][0]
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.oobs[i][0]
	}
	b.recv = func(fd uintptr) bool {
		for {
			n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hs[0])), uintptr(len(b.hs)), 0, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait until the socket is readable
			}
			b.got, b.errno = int(n), e
			return true
		}
	}
	return nil
}

// next returns the slot of the next datagram of the batch, reading a new
// batch when every one was handed out.
func (b *batch) next() (int, error) {
	if b.i >= b.n {
		b.i, b.n = 0, 0
		// What the kernel writes back, reset for the lengths it reads.
		for i := range b.hs {
			h := &b.hs[i]
			h.Len = 0
			h.Hdr.Namelen = uint32(len(b.names[i]))
			h.Hdr.SetControllen(len(b.oobs[i]))
			h.Hdr.Flags = 0
		}
		b.got, b.errno = 0, 0
		if err := b.rc.Read(b.recv); err != nil {
			return 0, err // net.ErrClosed once the socket is closed
		}
		if b.errno != 0 {
			return 0, os.NewSyscallError("recvmmsg", b.errno)
		}
		b.n = b.got
		if b.n == 0 {
			return 0, os.NewSyscallError("recvmmsg", unix.EAGAIN)
		}
	}
	i := b.i
	b.i++
	return i, nil
}

// data returns the datagram of slot i.
func (b *batch) data(i int) []byte { return b.bufs[i][:min(int(b.hs[i].Len), len(b.bufs[i]))] }

// control returns the control messages of slot i's datagram.
func (b *batch) control(i int) []byte {
	return b.oobs[i][:min(int(b.hs[i].Hdr.Controllen), len(b.oobs[i]))]
}

// source returns the address and port slot i's datagram came from.
func (b *batch) source(i int) (netip.AddrPort, bool) {
	return sockaddrAddrPort(b.names[i][:min(int(b.hs[i].Hdr.Namelen), len(b.names[i]))])
}

// sockaddrAddrPort reads a struct sockaddr_in or sockaddr_in6 (ip(7),
// ipv6(7)) as the kernel wrote it. The zone of a scoped IPv6 address (a
// link-local peer) is its interface's name, or its index where the name
// is unknown, as x/net and the standard library name it.
func sockaddrAddrPort(sa []byte) (netip.AddrPort, bool) {
	if len(sa) < 2 {
		return netip.AddrPort{}, false
	}
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case unix.AF_INET:
		if len(sa) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), binary.BigEndian.Uint16(sa[2:4])), true
	case unix.AF_INET6:
		if len(sa) < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		a := netip.AddrFrom16([16]byte(sa[8:24]))
		if id := binary.NativeEndian.Uint32(sa[24:28]); id != 0 {
			a = a.WithZone(zoneName(int(id)))
		}
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(sa[2:4])), true
	}
	return netip.AddrPort{}, false
}

// zones caches the names of interfaces by index for zoneName:
// net.InterfaceByIndex asks the kernel (a netlink dump) at each call, too
// dear for every datagram from a link-local peer. The names are forgotten
// each minute, as the standard library's own zone cache refreshes, so a
// renamed interface is seen; the indexes are those the kernel wrote, of
// interfaces that received, so the map stays small.
var zones struct {
	sync.Mutex
	names map[int]string
	at    time.Time
}

// zoneName names the interface of index id for an IPv6 zone.
func zoneName(id int) string {
	zones.Lock()
	defer zones.Unlock()
	if now := time.Now(); zones.names == nil || now.Sub(zones.at) > time.Minute {
		zones.names, zones.at = map[int]string{}, now
	}
	if n, ok := zones.names[id]; ok {
		return n
	}
	n := strconv.Itoa(id)
	if ifi, err := net.InterfaceByIndex(id); err == nil && ifi.Name != "" {
		n = ifi.Name
	}
	zones.names[id] = n
	return n
}
