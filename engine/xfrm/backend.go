//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// Options configure a Backend.
type Options struct {
	// Namespace is the network namespace to work in; 0 (or netns.None())
	// means the daemon's own. The Backend does not close it.
	Namespace netns.NsHandle
	// Timeout bounds every netlink round trip; 0 means 5 s.
	Timeout time.Duration
	// Buffer is the capacity of Notifications; 0 means 256.
	Buffer int
	// Removed, if set, hears from Open what it removed of an earlier
	// iked's kernel state (see Leftovers), when there was any.
	Removed func(Leftovers)
}

type saKey struct {
	proto engine.Protocol
	spi   uint32
	dst   netip.Addr
}

func keyOf(r engine.SARef) saKey { return saKey{r.Protocol, r.SPI, r.Dst} }

type policyKey struct {
	dir engine.Direction
	sel engine.Selector
}

// Backend is the XFRM engine backend. Its request methods are called by the
// engine's single worker; the monitor goroutine only reads netlink and
// writes Notifications.
type Backend struct {
	opts    Options
	h       *netlink.Handle
	sock    *nl.SocketHandle // for the requests built here
	mon     *nl.NetlinkSocket
	notes   chan engine.Event
	monDone chan struct{}
	stop    chan struct{} // closed by Close: the monitor stops waiting to deliver
	closed  atomic.Bool
	once    sync.Once

	larval   map[saKey]engine.SARef        // SPIs allocated, SA not yet installed
	sas      map[saKey]engine.SARef        // SAs installed by us
	policies map[policyKey][]engine.Policy // stacks, see policy.go
	porder   []policyKey

	leftovers Leftovers // what Open removed

	// counters is the socket of Bytes and ByteCounts (counters.go),
	// apart from the worker's, closed by Close under countMu.
	countMu  sync.Mutex
	counters *nl.SocketHandle

	rawHook func(syscall.NetlinkMessage) // tests record the kernel's messages
}

// New returns a backend; Open connects it.
func New(opts Options) *Backend {
	if opts.Namespace == 0 {
		opts.Namespace = netns.None()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	return &Backend{
		opts:     opts,
		notes:    make(chan engine.Event, opts.Buffer),
		monDone:  make(chan struct{}),
		stop:     make(chan struct{}),
		larval:   map[saKey]engine.SARef{},
		sas:      map[saKey]engine.SARef{},
		policies: map[policyKey][]engine.Policy{},
	}
}

// Name is the policy file's word for this engine.
func (b *Backend) Name() string { return "xfrm" }

// Open opens the netlink sockets in the namespace, checks that the kernel
// answers XFRM requests from us (root, CONFIG_XFRM_USER), removes what an
// earlier iked left in the namespace (see Leftovers) and starts the
// ACQUIRE/EXPIRE monitor.
func (b *Backend) Open() error {
	ns := b.opts.Namespace
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		return fmt.Errorf("xfrm netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(b.opts.Timeout); err != nil {
		h.Close()
		return err
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_XFRM)
	if err != nil {
		h.Close()
		return fmt.Errorf("xfrm netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(b.opts.Timeout.Nanoseconds())
	s.SetSendTimeout(&tv)
	s.SetReceiveTimeout(&tv)
	b.h, b.sock = h, &nl.SocketHandle{Socket: s}
	if err := b.openCounters(); err != nil {
		b.closeSockets()
		return err
	}

	// XFRM_MSG_GETSADINFO is the cheapest request; the kernel checks
	// CAP_NET_ADMIN for every XFRM message, so this proves we may talk.
	req := b.request(nl.XFRM_MSG_GETSADINFO, 0)
	req.AddData(rawData(nl.Uint32Attr(0xffffffff)))
	if _, err := req.Execute(unix.NETLINK_XFRM, 0); err != nil {
		b.closeSockets()
		return wrap(err, "query", "SAD info", 0, false)
	}
	// A killed iked's SAs and policies would make ours fail (EEXIST) or
	// linger: remove them, and only them (owner.go).
	b.leftovers = Leftovers{}
	if err := b.removeLeftovers(); err != nil {
		b.closeSockets()
		return fmt.Errorf("xfrm engine: removing an earlier iked's kernel state: %w", err)
	}
	if l := b.leftovers; b.opts.Removed != nil && len(l.SAs)+len(l.Policies) > 0 {
		b.opts.Removed(l)
	}

	mon, err := nl.SubscribeAt(ns, netns.None(), unix.NETLINK_XFRM, nl.XFRMNLGRP_ACQUIRE, nl.XFRMNLGRP_EXPIRE)
	if err != nil {
		b.closeSockets()
		return fmt.Errorf("xfrm monitor: %w", err)
	}
	b.mon = mon
	go b.monitor()
	return nil
}

func (b *Backend) closeSockets() {
	if b.h != nil {
		b.h.Close()
	}
	if b.sock != nil {
		b.sock.Close()
	}
	b.closeCounters()
}

// Close stops the monitor and closes the sockets (it does not Flush).
func (b *Backend) Close() error {
	b.once.Do(func() {
		b.closed.Store(true)
		close(b.stop)
		if b.mon != nil {
			b.mon.Close()
			<-b.monDone
		}
		close(b.notes)
		b.closeSockets()
	})
	return nil
}

// Notifications carries ACQUIRE, EXPIRE and monitor errors.
func (b *Backend) Notifications() <-chan engine.Event { return b.notes }

// request starts a netlink request on our own socket in the namespace.
func (b *Backend) request(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   uint32(unix.SizeofNlMsghdr),
			Type:  uint16(typ),
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_XFRM: b.sock},
	}
}

// rawData is a request payload given as bytes.
type rawData []byte

func (r rawData) Len() int          { return len(r) }
func (r rawData) Serialize() []byte { return r }

var errNotOpen = errors.New("xfrm engine: not open")

// Flush removes every SA, SPI reservation and policy this backend installed.
func (b *Backend) Flush() error {
	if b.h == nil {
		return errNotOpen
	}
	var refs []engine.SARef
	for _, r := range b.sas {
		refs = append(refs, r)
	}
	for _, r := range b.larval {
		refs = append(refs, r)
	}
	err1 := b.Delete(refs)
	var errs []error
	for _, k := range slices.Clone(b.porder) {
		stack := b.policies[k]
		p := stack[len(stack)-1]
		if err := b.h.XfrmPolicyDel(kernelPolicy(p)); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, wrap(err, "remove policy", p.String(), firstProto(p), !p.Is4()))
			continue
		}
		b.forget(k)
	}
	// The kernel's placeholders for our policies' ACQUIREs (SPI 0, a
	// reqid of our range) would outlive us by net.core.xfrm_acq_expires.
	if states, err := b.h.XfrmStateList(netlink.FAMILY_ALL); err != nil {
		errs = append(errs, wrap(err, "list", "SAs", 0, false))
	} else {
		for i := range states {
			s := &states[i]
			if _, ours := engineReqID(uint32(s.Reqid)); !ours || s.Spi != 0 {
				continue
			}
			if err := b.dropAcquire(s); err != nil {
				errs = append(errs, wrap(err, "delete acquire state", fmt.Sprintf("%s->%s", s.Src, s.Dst), engine.Protocol(s.Proto), s.Dst.To4() == nil))
			}
		}
	}
	err2 := errors.Join(errs...)
	return errors.Join(err1, err2)
}
