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
	slots
	bufs [][]byte
	n, i int
	// recv is the RawConn.Read callback, made once (a closure per read
	// would be an allocation); it leaves the number of datagrams read or
	// the error in got and errno.
	recv func(fd uintptr) bool
}

// slots are the message headers of a batch on one socket, for recvmmsg(2)
// or sendmmsg(2), each with its iovec, address and control buffer.
type slots struct {
	rc    syscall.RawConn
	hs    []unix.Mmsghdr // each points at its slot's iovec, name and control buffer
	iovs  []unix.Iovec
	names [][unix.SizeofSockaddrInet6]byte // sockaddr_in or sockaddr_in6
	oobs  [][]byte
	got   int // what the last call did: messages, or the error
	errno syscall.Errno
}

// init makes batchSize slots for the socket c.
func (s *slots) init(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	s.rc = rc
	s.hs = make([]unix.Mmsghdr, batchSize)
	s.iovs = make([]unix.Iovec, batchSize)
	s.names = make([][unix.SizeofSockaddrInet6]byte, batchSize)
	s.oobs = make([][]byte, batchSize)
	return nil
}

// alloc makes the batch's slots for the socket c, with oob bytes for the
// control messages the socket asked for.
func (b *batch) alloc(c *net.UDPConn, oob int) error {
	if err := b.init(c); err != nil {
		return err
	}
	b.bufs = make([][]byte, batchSize)
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
	b.recv = func(fd uintptr) bool { return mmsg(unix.SYS_RECVMMSG, fd, b.hs, &b.got, &b.errno) }
	return nil
}

// mmsg makes the system call trap (recvmmsg or sendmmsg) on fd for the
// messages hs, again when a signal interrupts it, and leaves the number
// of messages done or the error in got and errno. It returns false when
// the socket would block: the RawConn then waits until it is ready and
// calls again.
//
// The sockets are non-blocking (the net package opens them so), so the
// call returns at once: it is made raw, without telling the Go scheduler
// that the goroutine enters a system call. Made through syscall.Syscall6,
// each call put the processor in the system call state, which the
// runtime's monitor thread (sysmon) watches, waking every 20 µs while it
// finds work, and takes the processor from: with one processor, raw calls
// cut sysmon's share of the responder's CPU from about 4 % to 1 %, its
// futex calls by two thirds, and the CPU per SA pair by 5-10 %
// (docs/performance.md, "A seventh cut: raw system calls").
func mmsg(trap, fd uintptr, hs []unix.Mmsghdr, got *int, errno *syscall.Errno) bool {
	for {
		n, _, e := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		*got, *errno = int(n), e
		return true
	}
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

// sendBatch sends datagrams with one sendmmsg(2) for up to batchSize of
// them, through the socket's RawConn as batch reads. Only the loop sends
// (outbox.go), so one sendBatch per socket serves it.
type sendBatch struct {
	slots     // oobs: a slot's source address, or none
	n     int // slots filled for the next call
	send  func(fd uintptr) bool
}

func (b *sendBatch) alloc(c *net.UDPConn) error {
	if err := b.init(c); err != nil {
		return err
	}
	b.send = func(fd uintptr) bool { return mmsg(unix.SYS_SENDMMSG, fd, b.hs[:b.n], &b.got, &b.errno) }
	return nil
}

// write sends ds in order, batchSize at a time. name writes the
// destination of a datagram into a slot's sockaddr and returns its
// length, and the control message for its source (or nil); a datagram it
// cannot address (0) is sent with single, alone. It returns how many
// datagrams left before the first that failed, and that one's error.
func (b *sendBatch) write(c *net.UDPConn, ds []Datagram, name func(sa []byte, d Datagram) (int, []byte), single func(Datagram) error) (int, error) {
	if b.hs == nil {
		if err := b.alloc(c); err != nil {
			return 0, err
		}
	}
	sent := 0
	for sent < len(ds) {
		b.n = 0
		for sent+b.n < len(ds) && b.n < len(b.hs) {
			d := ds[sent+b.n]
			nl, oob := name(b.names[b.n][:], d)
			if nl == 0 || len(d.Data) == 0 {
				break
			}
			i := b.n
			b.iovs[i].Base = &d.Data[0]
			b.iovs[i].SetLen(len(d.Data))
			b.oobs[i] = oob
			h := &b.hs[i]
			*h = unix.Mmsghdr{}
			h.Hdr.Name = &b.names[i][0]
			h.Hdr.Namelen = uint32(nl)
			h.Hdr.Iov = &b.iovs[i]
			h.Hdr.SetIovlen(1)
			if len(oob) > 0 {
				h.Hdr.Control = &oob[0]
				h.Hdr.SetControllen(len(oob))
			}
			b.n++
		}
		if b.n == 0 {
			// One the batch cannot carry: alone, by the standard library.
			if err := single(ds[sent]); err != nil {
				return sent, err
			}
			sent++
			continue
		}
		b.got, b.errno = 0, 0
		err := b.rc.Write(b.send)
		// The slots point at the datagrams' data: let go of it.
		for i := range b.n {
			b.iovs[i] = unix.Iovec{}
			b.oobs[i] = nil
			b.hs[i].Hdr.Control = nil
		}
		if err != nil {
			return sent, err
		}
		if b.errno != 0 {
			// sendmmsg(2) fails only when the first message fails.
			return sent, os.NewSyscallError("sendmmsg", b.errno)
		}
		// Fewer sent than given: the next call reports the error of
		// the first that did not leave, or sends it.
		sent += b.got
	}
	return sent, nil
}

// sockaddr4 writes d's destination as a struct sockaddr_in (ip(7)); 0 when
// it is not an IPv4 address.
func sockaddr4(sa []byte, d Datagram) int {
	a := d.Remote.Addr().Unmap()
	if !a.Is4() {
		return 0
	}
	clear(sa[:unix.SizeofSockaddrInet4])
	binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET)
	binary.BigEndian.PutUint16(sa[2:4], d.Remote.Port())
	a4 := a.As4()
	copy(sa[4:8], a4[:])
	return unix.SizeofSockaddrInet4
}

// sockaddr6 writes d's destination as a struct sockaddr_in6 (ipv6(7)); 0
// when it is not an IPv6 address or carries a zone (a link-local peer: the
// standard library resolves the zone's interface).
func sockaddr6(sa []byte, d Datagram) int {
	a := d.Remote.Addr()
	if !a.Is6() || a.Zone() != "" {
		return 0
	}
	clear(sa[:unix.SizeofSockaddrInet6])
	binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET6)
	binary.BigEndian.PutUint16(sa[2:4], d.Remote.Port())
	a16 := a.As16()
	copy(sa[8:24], a16[:])
	return unix.SizeofSockaddrInet6
}
