//go:build linux

package unmatched

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Options configure a Watcher.
type Options struct {
	// Group is the NFLOG group; default DefaultGroup.
	Group uint16
	// IKEPorts are the UDP ports IKE uses (500, 4500): never dropped.
	IKEPorts []uint16
	// Every is how often one flow (source, destination, protocol,
	// destination port) is logged; default 10s. The packets in between
	// are counted and the count is logged with the flow's next line.
	Every time.Duration
	// Emit logs message 7 (a *notify.Logger's Emit).
	Emit func(notify.Message, ...zap.Field)
	// NetNS is a network namespace file descriptor to work in; 0 the
	// calling thread's.
	NetNS int
	Now   func() time.Time
}

// DefaultGroup is the NFLOG group iked uses when Options.Group is 0.
const DefaultGroup = 4242

// maxFlows bounds the rate limiter's memory under a flood of distinct flows.
const maxFlows = 4096

// Stats count what the watcher saw.
type Stats struct {
	Dropped    uint64 // packets logged to iked by the table
	Logged     uint64 // message 7 lines
	Suppressed uint64 // dropped packets not logged by the rate limit
	Malformed  uint64 // payloads or netlink messages that were not IP packets
	Overruns   uint64 // times the socket overflowed: packets dropped unseen
}

// Watcher owns the nftables table and reads its NFLOG group.
type Watcher struct {
	opt  Options
	nft  *nftables.Conn
	log  *nflog
	done chan struct{}

	mu    sync.Mutex
	flows map[flowKey]*flowState

	dropped, logged, suppressed, malformed, overruns atomic.Uint64
}

type flowKey struct {
	src, dst netip.Addr
	proto    uint8
	dport    int
}

type flowState struct {
	last       time.Time
	suppressed uint64
}

// Start installs the table for flows and starts reading the group.
func Start(opt Options, flows []Flow) (*Watcher, error) {
	if opt.Group == 0 {
		opt.Group = DefaultGroup
	}
	if opt.Every <= 0 {
		opt.Every = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Emit == nil {
		opt.Emit = func(notify.Message, ...zap.Field) {}
	}
	var nopts []nftables.ConnOption
	if opt.NetNS != 0 {
		nopts = append(nopts, nftables.WithNetNSFd(opt.NetNS))
	}
	nft, err := nftables.New(nopts...)
	if err != nil {
		return nil, err
	}
	l, err := openNFLOG(opt.Group, opt.NetNS)
	if err != nil {
		return nil, err
	}
	w := &Watcher{opt: opt, nft: nft, log: l, done: make(chan struct{}), flows: map[flowKey]*flowState{}}
	if err := install(nft, opt.Group, opt.IKEPorts, flows); err != nil {
		l.Close()
		return nil, err
	}
	go w.read()
	return w, nil
}

// Update replaces the table's flows (a reload).
func (w *Watcher) Update(flows []Flow) error {
	return install(w.nft, w.opt.Group, w.opt.IKEPorts, flows)
}

// Close removes the table and stops reading.
func (w *Watcher) Close() error {
	err := removeNow(w.nft)
	w.log.Close()
	<-w.done
	return err
}

// Stats returns the counts so far.
func (w *Watcher) Stats() Stats {
	return Stats{Dropped: w.dropped.Load(), Logged: w.logged.Load(),
		Suppressed: w.suppressed.Load(), Malformed: w.malformed.Load(), Overruns: w.overruns.Load()}
}

func (w *Watcher) read() {
	defer close(w.done)
	for {
		ps, bad, err := w.log.receive()
		if err != nil {
			if closed(err) {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The socket overflowed: packets were dropped but not seen.
				w.overruns.Add(1)
				continue
			}
			return
		}
		w.malformed.Add(uint64(bad))
		for _, p := range ps {
			w.handle(p)
		}
	}
}

// handle logs one dropped packet, rate-limited per flow.
func (w *Watcher) handle(payload []byte) {
	w.dropped.Add(1)
	p, err := Parse(payload)
	if err != nil {
		w.malformed.Add(1)
		return
	}
	k := flowKey{p.Src, p.Dst, p.Proto, p.DstPort}
	now := w.opt.Now()
	w.mu.Lock()
	st := w.flows[k]
	if st != nil && now.Sub(st.last) < w.opt.Every {
		st.suppressed++
		w.mu.Unlock()
		w.suppressed.Add(1)
		return
	}
	var before uint64
	if st == nil {
		if len(w.flows) >= maxFlows {
			w.expire(now)
		}
		if len(w.flows) >= maxFlows {
			w.mu.Unlock()
			w.suppressed.Add(1)
			return
		}
		st = &flowState{}
		w.flows[k] = st
	}
	before, st.suppressed, st.last = st.suppressed, 0, now
	w.mu.Unlock()
	w.logged.Add(1)
	var fields []zap.Field
	if before > 0 {
		fields = append(fields, zap.Uint64("suppressed", before))
	}
	w.opt.Emit(notify.DroppingPacket(p.IPProtocol(), p.Src.String(), p.Dst.String(), p.ProtoName(), p.SrcPort, p.DstPort), fields...)
}

// expire forgets the flows not logged for Every. Called with mu held.
func (w *Watcher) expire(now time.Time) {
	for k, st := range w.flows {
		if now.Sub(st.last) >= w.opt.Every {
			delete(w.flows, k)
		}
	}
}

// FlowsOf returns the protected flows of a policy's connections. A
// connection whose two selectors are both any is left out: it would drop
// all traffic that is not IPsec.
func FlowsOf(p *policymgr.Policy) []Flow {
	var fs []Flow
	for _, c := range p.Connections {
		l, r := c.Local.Addr, c.Remote.Addr
		if l.IsAny() && r.IsAny() {
			continue
		}
		if !l.IsAny() && !r.IsAny() && l.From.Is4() != r.From.Is4() {
			continue
		}
		fs = append(fs, Flow{Name: c.Name, LocalFrom: l.From, LocalTo: l.To, RemoteFrom: r.From, RemoteTo: r.To,
			Proto: c.Local.Proto, LocalPort: c.Local.Port, RemotePort: c.Remote.Port})
	}
	return fs
}

// Control is the watcher as the daemon drives it (daemon.Unmatched): on
// at start and at each reload while the policy sets log-unmatched, off
// when a reload clears it, closed at stop.
type Control struct {
	Options Options // IKEPorts are taken from the policy
	w       *Watcher
}

// Set puts p's protected flows in force (starting the watcher) when on,
// or removes the table when off.
func (c *Control) Set(on bool, p *policymgr.Policy) error {
	if !on || p == nil {
		return c.Close()
	}
	flows := FlowsOf(p)
	if c.w != nil {
		return c.w.Update(flows)
	}
	opt := c.Options
	opt.IKEPorts = nil
	for _, port := range []int{p.Daemon.IKEPort, p.Daemon.NATTPort} {
		if port > 0 && port <= 0xffff {
			opt.IKEPorts = append(opt.IKEPorts, uint16(port))
		}
	}
	w, err := Start(opt, flows)
	if err != nil {
		return err
	}
	c.w = w
	return nil
}

// Close removes the table and stops the watcher, if it runs.
func (c *Control) Close() error {
	if c.w == nil {
		return nil
	}
	err := c.w.Close()
	c.w = nil
	return err
}

// Stats returns the running watcher's counts (zero when off).
func (c *Control) Stats() Stats {
	if c.w == nil {
		return Stats{}
	}
	return c.w.Stats()
}
