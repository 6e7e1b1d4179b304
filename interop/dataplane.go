package interop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The data-plane half of the harness: traffic between two hosts of a
// topology (ping, a TCP transfer, UDP datagrams, both ways), the kernel's
// per-SA counters, and a capture of a link that tells IPsec from clear text.
// The scenarios that use them run where the kernel has ESP (see
// scripts/kernel-test.sh).

// Ping sends count ICMP echo requests from src (an address of the host) to
// dst every interval, with busybox's ping (Debian's busybox-static), and
// returns how many were sent and answered.
func (h Host) Ping(src, dst netip.Addr, count int, interval time.Duration) (sent, received int, err error) {
	args := []string{"ping", "-c", strconv.Itoa(count), "-W", "2", "-I", src.String()}
	if interval > 0 {
		args = append(args, "-i", strconv.FormatFloat(interval.Seconds(), 'f', 3, 64))
	}
	if dst.Is6() {
		args[0] = "ping6"
	}
	out, runErr := h.NS.Run("busybox", append(args, dst.String())...)
	m := pingStats.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("ping %s -> %s: %v: %s", src, dst, runErr, out)
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received, nil
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) packets received`)

// TCPTransfer opens a TCP connection from src on host a to dst on host b,
// sends n random bytes each way (a to b first, then b to a) and checks that
// what arrived is what was sent.
func TCPTransfer(a, b Host, src, dst netip.Addr, n int) error {
	var ln net.Listener
	if err := b.NS.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String())
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	// Hex text of random bytes: it compresses (IPComp compresses only what
	// gets smaller) and no two runs send the same.
	up, down := randomText(n), randomText(n)
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil {
			srvErr <- fmt.Errorf("server read: %w", err)
			return
		}
		if sha256.Sum256(got) != sha256.Sum256(up) {
			srvErr <- errors.New("server received other bytes than sent")
			return
		}
		_, err = c.Write(down)
		srvErr <- err
	}()
	var c net.Conn
	if err := a.NS.Do(func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 20 * time.Second}
		c, err = d.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		return fmt.Errorf("tcp %s -> %s: %w", src, dst, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(up); err != nil {
		return fmt.Errorf("client write: %w", err)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("client read: %w", err)
	}
	if !bytes.Equal(got, down) {
		return errors.New("client received other bytes than sent")
	}
	return <-srvErr
}

func randomText(n int) []byte {
	raw := make([]byte, (n+1)/2)
	rand.Read(raw)
	return []byte(hex.EncodeToString(raw))[:n]
}

// UDPExchange sends count datagrams of size bytes from src on a to dst on
// b, each answered by one back, spaced by gap; it returns how many arrived
// at b and how many answers came back to a.
func UDPExchange(a, b Host, src, dst netip.Addr, count, size int, gap time.Duration) (there, back int, err error) {
	var srv, cli *net.UDPConn
	if err := b.NS.Do(func() (err error) {
		srv, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 0)))
		return err
	}); err != nil {
		return 0, 0, err
	}
	defer srv.Close()
	if err := a.NS.Do(func() (err error) {
		cli, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		return err
	}); err != nil {
		return 0, 0, err
	}
	defer cli.Close()
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			srv.SetReadDeadline(time.Now().Add(3 * time.Second))
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			mu.Lock()
			there++
			mu.Unlock()
			srv.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	answers := make(chan struct{})
	go func() {
		defer close(answers)
		buf := make([]byte, 65536)
		for {
			cli.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, _, err := cli.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			mu.Lock()
			back++
			mu.Unlock()
		}
	}()
	payload := make([]byte, size)
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(srv.LocalAddr().String()))
	for range count {
		rand.Read(payload)
		if _, err := cli.WriteToUDP(payload, to); err != nil {
			return 0, 0, fmt.Errorf("udp %s -> %s: %w", src, dst, err)
		}
		time.Sleep(gap)
	}
	<-answers
	srv.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return there, back, nil
}

// KernelSA is one SA of the namespace's SAD with its counters.
type KernelSA struct {
	Proto    string // "esp", "ah", "comp"
	SPI      uint32
	Src, Dst netip.Addr
	Mode     string
	ReqID    int
	Encap    bool
	Packets  uint64
	Bytes    uint64
	Failed   uint32 // integrity failures (the kernel's "integrity failed")
	Replay   uint32
}

func (s KernelSA) String() string {
	return fmt.Sprintf("%s 0x%08x %s->%s", s.Proto, s.SPI, s.Src, s.Dst)
}

// XfrmStates reads the namespace's SAD (what `ip -s xfrm state` prints).
func (ns *Namespace) XfrmStates() ([]KernelSA, error) {
	nh, err := ns.xfrmHandle()
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	list, err := nh.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []KernelSA
	for _, s := range list {
		src, _ := netip.AddrFromSlice(s.Src)
		dst, _ := netip.AddrFromSlice(s.Dst)
		out = append(out, KernelSA{Proto: s.Proto.String(), SPI: uint32(s.Spi), Src: src.Unmap(), Dst: dst.Unmap(),
			Mode: s.Mode.String(), ReqID: s.Reqid, Encap: s.Encap != nil,
			Packets: s.Statistics.Packets, Bytes: s.Statistics.Bytes, Failed: s.Statistics.Failed, Replay: s.Statistics.Replay})
	}
	return out, nil
}

// xfrmHandle is a netlink XFRM socket in the namespace.
func (ns *Namespace) xfrmHandle() (*netlink.Handle, error) {
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return netlink.NewHandleAt(h, unix.NETLINK_XFRM)
}

// XfrmPolicyList reads the namespace's SPD.
func (ns *Namespace) XfrmPolicyList() ([]netlink.XfrmPolicy, error) {
	nh, err := ns.xfrmHandle()
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	return nh.XfrmPolicyList(netlink.FAMILY_ALL)
}

// XfrmPolicies is `ip xfrm policy` in the namespace, as text.
func (ns *Namespace) XfrmPolicies() (string, error) { return ns.Run("ip", "xfrm", "policy") }

// Capture records the frames a namespace sends on one link (an AF_PACKET
// socket; only outgoing frames, since the kernel passes a packet that it
// decrypted from a tunnel to the taps of the link it came in on again)
// and sorts them: IPsec and IKE (ESP, AH, UDP 500/4500), link
// control (ARP, IPv6 neighbour discovery), and anything else, which on a
// link between two IPsec peers is traffic that escaped the SAs.
type Capture struct {
	fd   int
	mu   sync.Mutex
	pcap bytes.Buffer
	// Counts per class: "esp", "ah", "ike", "nat-t" (UDP 4500 without the
	// non-ESP marker: ESP in UDP), "control" and "clear".
	counts map[string]int
	clear  []string // the first clear-text frames, described
	done   chan struct{}
}

// StartCapture starts capturing what ns sends on link. Capturing on both
// ends of a veth link sees every frame on it.
func (ns *Namespace) StartCapture(link string) (*Capture, error) {
	c := &Capture{counts: map[string]int{}, done: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.Timeval{Usec: 200000}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		c.fd = fd
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("capture on %s in %s: %w", link, ns.Name, err)
	}
	// pcap file header: magic, version 2.4, snaplen 65535, LINKTYPE_ETHERNET.
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	c.pcap.Write(hdr)
	go c.read(c.fd)
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) read(fd int) {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				c.mu.Lock()
				stopped := c.fd < 0
				c.mu.Unlock()
				if stopped {
					return
				}
				continue
			}
			return
		}
		c.mu.Lock()
		stopped := c.fd < 0
		c.mu.Unlock()
		if stopped {
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype != unix.PACKET_OUTGOING {
			continue
		}
		now := time.Now()
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(now.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(now.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(n))
		binary.LittleEndian.PutUint32(rec[12:], uint32(n))
		class, what := classify(buf[:n])
		c.mu.Lock()
		c.pcap.Write(rec)
		c.pcap.Write(buf[:n])
		c.counts[class]++
		if class == "clear" && len(c.clear) < 10 {
			c.clear = append(c.clear, what)
		}
		c.mu.Unlock()
	}
}

// classify sorts one Ethernet frame.
func classify(f []byte) (class, what string) {
	if len(f) < 14 {
		return "clear", "runt frame"
	}
	et := binary.BigEndian.Uint16(f[12:])
	p := f[14:]
	var proto byte
	var l4 []byte
	var src, dst netip.Addr
	switch et {
	case 0x0806:
		return "control", "arp"
	case 0x0800:
		if len(p) < 20 {
			return "clear", "short ipv4"
		}
		proto = p[9]
		src, _ = netip.AddrFromSlice(p[12:16])
		dst, _ = netip.AddrFromSlice(p[16:20])
		if ihl := int(p[0]&0x0f) * 4; len(p) >= ihl {
			l4 = p[ihl:]
		}
	case 0x86dd:
		if len(p) < 40 {
			return "clear", "short ipv6"
		}
		proto = p[6]
		src, _ = netip.AddrFromSlice(p[8:24])
		dst, _ = netip.AddrFromSlice(p[24:40])
		l4 = p[40:]
		// ICMPv6 neighbour discovery and router solicitation (133-137) and
		// MLD reports (143) are the link's own.
		if proto == 58 && len(l4) > 0 && (l4[0] >= 133 && l4[0] <= 137 || l4[0] == 143) {
			return "control", "icmpv6 nd"
		}
		if proto == 0 { // hop-by-hop options: MLD
			return "control", "ipv6 hop-by-hop"
		}
	default:
		return "clear", fmt.Sprintf("ethertype 0x%04x", et)
	}
	switch proto {
	case 50:
		return "esp", ""
	case 51:
		return "ah", ""
	case 17:
		if len(l4) >= 8 {
			sp, dp := binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
			if sp == 500 || dp == 500 {
				return "ike", ""
			}
			if sp == 4500 || dp == 4500 {
				// RFC 3948, 2.2: a zero "SPI" is the non-ESP marker of IKE.
				if len(l4) >= 12 && binary.BigEndian.Uint32(l4[8:]) == 0 {
					return "ike", ""
				}
				return "nat-t", ""
			}
			return "clear", fmt.Sprintf("udp %s:%d -> %s:%d", src, sp, dst, dp)
		}
	}
	return "clear", fmt.Sprintf("ip proto %d %s -> %s", proto, src, dst)
}

// Stop ends the capture and writes the frames to path as a pcap file (if
// path is not empty).
func (c *Capture) Stop(path string) error {
	c.mu.Lock()
	fd := c.fd
	c.fd = -1
	c.mu.Unlock()
	<-c.done
	unix.Close(fd)
	if path == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return os.WriteFile(path, c.pcap.Bytes(), 0o644)
}

// Counts returns the frames seen per class, and the first clear ones.
func (c *Capture) Counts() (map[string]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m, append([]string(nil), c.clear...)
}
