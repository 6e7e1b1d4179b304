// Package memory is the `none` engine: it keeps negotiated SAs and policies
// in the daemon's memory instead of a kernel, and answers like the XFRM
// backend does (unique random SPIs of at least 256, all-or-nothing
// installation, soft and hard EXPIRE, ACQUIRE for a simulated packet). It is
// what `engine: none` runs, and what tests use: it records every SA's keys so
// a test can compare them with the keys strongSwan logged.
package memory

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/iked/iked/deadline"
	"github.com/iked/iked/engine"
)

// Errors the memory backend returns where the kernel returns an errno.
var (
	ErrExists      = errors.New("memory engine: SA or policy exists")
	ErrNotFound    = errors.New("memory engine: no such SA or policy")
	ErrNoSPI       = errors.New("memory engine: no free SPI in range")
	ErrClosed      = errors.New("memory engine: closed")
	ErrUnsupported = errors.New("memory engine: protocol not supported")
)

// Options configure a Backend.
type Options struct {
	// Rand draws SPIs; nil means crypto/rand. Tests pin SPIs with it.
	Rand io.Reader
	// Unsupported makes installing SAs of these protocols fail, the way a
	// kernel without CONFIG_INET_ESP does, to test the failure path.
	Unsupported []engine.Protocol
	// Buffer is the capacity of Notifications; 0 means 64.
	Buffer int
	// InstallDelay makes Install take this long before it records the
	// bundle, as a busy kernel would: the daemon's loop runs on meanwhile
	// (a test may remove the ISAKMP SA while the engine installs).
	InstallDelay time.Duration
	// PolicyDelay does the same for InstallPolicies of some policies.
	PolicyDelay time.Duration
	// Watch, if set, is called after every change of the policies in
	// force, with them (as Policies returns them), so that a test can
	// check that no instant lacks a policy. It runs on the engine's
	// worker and must not call the backend.
	Watch func([]engine.Policy)
}

// Record is one installed SA with everything the engine was given for it,
// keys included.
type Record struct {
	Ref       engine.SARef
	Inbound   bool
	BundleID  uint32
	ReqID     uint32
	Mode      engine.Mode // this SA's own mode (see engine.Bundle.SAMode)
	SA        engine.SA   // algorithms and keys, deep-copied
	Encap     *engine.Encap
	Selector  engine.Selector
	Lifetime  engine.Lifetime
	Installed time.Time
	Bytes     uint64 // accounted with Account
	SoftFired bool
}

type saKey struct {
	proto engine.Protocol
	spi   uint32
	dst   netip.Addr
}

func keyOf(r engine.SARef) saKey { return saKey{r.Protocol, r.SPI, r.Dst} }

// stacked is an entry of a key's stack of policies: n equal policies
// installed one after the other, as one. Many transport-mode clients of
// one connection behind one address each install the same policies (its
// request ID is the connection's): a stack of 1,000 equal copies took
// most of the memory engine's share at 100,000 bundles.
type stacked struct {
	p engine.Policy
	n int
}

type policyKey struct {
	dir engine.Direction
	sel engine.Selector
}

// entry is an installed SA. Its lifetime timers are not a time.Timer each
// but a place in the backend's heap of deadlines (expiry.go): a daemon
// holding 100,000 bundles kept 400,000 runtime timers.
// The SAs of a bundle share what the bundle says of them all (installed),
// and Record is put together when a caller asks.
type entry struct {
	ref    engine.SARef
	bundle *installed
	sa     engine.SA // algorithms and keys, deep-copied (keep)
	mode   engine.Mode
	// enc and integ are what sa.Encryption and sa.Integrity point to, in
	// the entry rather than an allocation each (keep).
	enc   engine.Cipher
	integ engine.Integrity
	bytes uint64 // accounted with Account
	// Entry is the next lifetime to fire (soft, then hard), while
	// pending in Backend.expiries.
	deadline.Entry

	inbound, softFired, hardExpired, dueHard bool
}

// installed is what the SAs of one bundle share.
type installed struct {
	bundleID, reqID uint32
	selector        engine.Selector
	lifetime        engine.Lifetime
	at              time.Time
	encap           *engine.Encap // the ESP SAs'
}

func (e *entry) key() saKey { return keyOf(e.ref) }

// record is the SA as Record, keys not copied.
func (e *entry) record() Record {
	r := Record{Ref: e.ref, Inbound: e.inbound, BundleID: e.bundle.bundleID, ReqID: e.bundle.reqID, Mode: e.mode,
		SA: e.sa, Selector: e.bundle.selector, Lifetime: e.bundle.lifetime, Installed: e.bundle.at,
		Bytes: e.bytes, SoftFired: e.softFired}
	if e.sa.Protocol == engine.ProtoESP {
		r.Encap = e.bundle.encap
	}
	return r
}

// Backend is the memory engine. Its methods are safe for concurrent use:
// tests read its records while the engine's worker writes them.
type Backend struct {
	opts     Options
	mu       sync.Mutex
	open     bool
	sas      map[saKey]*entry
	larval   map[saKey]engine.SARef
	policies map[policyKey][]stacked // per key a stack, the last in force (as engine/xfrm)
	order    []policyKey
	notes    chan engine.Event
	done     chan struct{}
	acqSeq   uint32
	expiries expiries
}

// New returns a memory backend; it is empty until Open.
func New(opts Options) *Backend {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	return &Backend{
		opts:     opts,
		sas:      map[saKey]*entry{},
		larval:   map[saKey]engine.SARef{},
		policies: map[policyKey][]stacked{},
		notes:    make(chan engine.Event, opts.Buffer),
		done:     make(chan struct{}),
	}
}

// Name is the policy file's word for this engine.
func (b *Backend) Name() string { return "none" }

// Open starts the backend.
func (b *Backend) Open() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.done:
		return ErrClosed
	default:
	}
	b.open = true
	return nil
}

// Notifications carries ACQUIRE and EXPIRE events.
func (b *Backend) Notifications() <-chan engine.Event { return b.notes }

// Close stops the timers and closes Notifications.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	default:
	}
	b.expiries.stopAll()
	b.open = false
	close(b.done)
	close(b.notes)
	return nil
}

// notify delivers a volunteered event unless the backend is closed. It is
// called with b.mu held: the channel is buffered, and a full buffer drops
// the event as a kernel's full netlink socket would (ENOBUFS).
func (b *Backend) notify(ev engine.Event) bool {
	select {
	case <-b.done:
		return false
	default:
	}
	select {
	case b.notes <- ev:
		return true
	default:
		return false
	}
}

// AllocSPI reserves a random unused SPI in r's range, as XFRM_MSG_ALLOCSPI
// does (a larval SA that Install completes).
func (b *Backend) AllocSPI(r *engine.AllocSPI) (uint32, error) {
	lo, hi, err := r.Range()
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return 0, ErrClosed
	}
	var buf [4]byte
	if _, err := io.ReadFull(b.opts.Rand, buf[:]); err != nil {
		return 0, fmt.Errorf("memory engine: random SPI: %w", err)
	}
	span := uint64(hi) - uint64(lo) + 1
	start := uint64(binary.BigEndian.Uint32(buf[:])) % span
	// Probe from a random start; the bound keeps a nearly full huge range
	// from stalling the worker.
	for i := uint64(0); i < min(span, 1<<16); i++ {
		spi := uint32(uint64(lo) + (start+i)%span)
		k := saKey{r.Protocol, spi, r.Dst}
		if _, ok := b.sas[k]; ok {
			continue
		}
		if _, ok := b.larval[k]; ok {
			continue
		}
		b.larval[k] = engine.SARef{Protocol: r.Protocol, SPI: spi, Src: r.Src, Dst: r.Dst}
		return spi, nil
	}
	return 0, ErrNoSPI
}

// Install records every SA of the bundle, or none.
func (b *Backend) Install(bd *engine.Bundle) error {
	if b.opts.InstallDelay > 0 {
		time.Sleep(b.opts.InstallDelay)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return ErrClosed
	}
	var buf [6]engine.SARef // a bundle of up to three protocols, both directions
	refs := bd.AppendRefs(buf[:0])
	var failed error
	for i, ref := range refs {
		k := keyOf(ref)
		if slices.Contains(b.opts.Unsupported, ref.Protocol) {
			failed = fmt.Errorf("%w: %s", ErrUnsupported, ref)
			break
		}
		if _, ok := b.sas[k]; ok {
			failed = fmt.Errorf("%w: %s", ErrExists, ref)
			break
		}
		for _, other := range refs[:i] {
			if keyOf(other) == k {
				failed = fmt.Errorf("%w: %s twice in the bundle", ErrExists, ref)
			}
		}
		if failed != nil {
			break
		}
	}
	if failed != nil {
		// Like the XFRM backend: a failed installation also gives back the
		// SPIs allocated for it.
		for _, ref := range refs[:len(bd.Inbound)] {
			delete(b.larval, keyOf(ref))
		}
		return failed
	}
	shared := &installed{bundleID: bd.ID, reqID: bd.ReqID, selector: bd.Selector, lifetime: bd.Lifetime, at: time.Now()}
	if bd.Encap != nil {
		enc := *bd.Encap // ports as seen from this host, both directions
		shared.encap = &enc
	}
	for i, ref := range refs {
		inbound := i < len(bd.Inbound)
		sa, sas := bd.Outbound[max(0, i-len(bd.Inbound))], bd.Outbound
		if inbound {
			sa, sas = bd.Inbound[i], bd.Inbound
		}
		k := keyOf(ref)
		delete(b.larval, k)
		e := &entry{ref: ref, bundle: shared, mode: bd.SAMode(sas, sa.Protocol), inbound: inbound}
		e.keep(sa)
		b.sas[k] = e
		b.arm(k, e)
	}
	return nil
}

// arm schedules the first lifetime of an SA (b.mu held): the soft one,
// else the hard one.
func (b *Backend) arm(k saKey, e *entry) {
	lt, at := e.bundle.lifetime, e.bundle.at
	switch {
	case lt.SoftSeconds != 0:
		b.expiries.add(b, e, at.Add(time.Duration(lt.SoftSeconds)*time.Second), false)
	case lt.HardSeconds != 0:
		b.expiries.add(b, e, at.Add(time.Duration(lt.HardSeconds)*time.Second), true)
	}
}

// stop cancels an SA's pending lifetime (b.mu held).
func (b *Backend) stop(e *entry) { b.expiries.remove(e) }

// expired fires the lifetime of e that fell due (b.mu held), then
// schedules its hard one after a soft one.
func (b *Backend) expired(e *entry) {
	hard := e.dueHard
	k := e.key()
	b.expireLocked(k, e, hard)
	if lt := e.bundle.lifetime; !hard && lt.HardSeconds != 0 && b.sas[k] == e && !e.hardExpired {
		b.expiries.add(b, e, e.bundle.at.Add(time.Duration(lt.HardSeconds)*time.Second), true)
	}
}

func (b *Backend) expireLocked(k saKey, e *entry, hard bool) {
	if b.sas[k] != e || e.hardExpired || (!hard && e.softFired) {
		return
	}
	kind := engine.EventExpireSoft
	if hard {
		kind = engine.EventExpireHard
		e.hardExpired = true
		b.stop(e)
		delete(b.sas, k)
	} else {
		e.softFired = true
	}
	b.notify(engine.Event{Kind: kind, Protocol: e.ref.Protocol, SPI: e.ref.SPI,
		Expire: &engine.Expire{SA: e.ref, ReqID: e.bundle.reqID, Hard: hard}})
}

// Account counts traffic on an SA, which fires its volume lifetimes
// (RFC 2407, 4.5 kilobytes) as the kernel's byte counters would.
func (b *Backend) Account(ref engine.SARef, bytes uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := keyOf(ref)
	e, ok := b.sas[k]
	if !ok {
		return ErrNotFound
	}
	e.bytes += bytes
	lt := e.bundle.lifetime
	if lt.SoftKBytes != 0 && e.bytes >= lt.SoftKBytes*1024 {
		b.expireLocked(k, e, false)
	}
	if lt.HardKBytes != 0 && e.bytes >= lt.HardKBytes*1024 {
		b.expireLocked(k, e, true)
	}
	return nil
}

// Delete removes SAs (or SPI reservations); it tries every one and returns
// the first failure.
func (b *Backend) Delete(refs []engine.SARef) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	for _, ref := range refs {
		k := keyOf(ref)
		if e, ok := b.sas[k]; ok {
			b.stop(e)
			delete(b.sas, k)
			continue
		}
		if _, ok := b.larval[k]; ok {
			delete(b.larval, k)
			continue
		}
		if first == nil {
			first = fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
	}
	return first
}

// InstallPolicies records policies, all or none. As the xfrm engine
// does, a policy whose direction and selector are already held goes on top
// of them and is in force until removed (make-before-break on reload and
// rekey); the same key twice in one call is refused.
func (b *Backend) InstallPolicies(ps []engine.Policy) error {
	if b.opts.PolicyDelay > 0 && len(ps) > 0 {
		time.Sleep(b.opts.PolicyDelay)
	}
	defer b.watch()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return ErrClosed
	}
	seen := map[policyKey]bool{}
	for _, p := range ps {
		k := policyKey{p.Dir, p.Selector}
		if seen[k] {
			return fmt.Errorf("%w: policy %s", ErrExists, p)
		}
		seen[k] = true
	}
	for _, p := range ps {
		k := policyKey{p.Dir, p.Selector}
		p.Protocols = slices.Clone(p.Protocols)
		stack := b.policies[k]
		if len(stack) == 0 {
			b.order = append(b.order, k)
		}
		if top := len(stack) - 1; top >= 0 && samePolicy(stack[top].p, p) {
			stack[top].n++
			continue
		}
		b.policies[k] = append(stack, stacked{p: p, n: 1})
	}
	return nil
}

// RemovePolicies removes policies (the topmost equal one of each key); it
// tries every one.
func (b *Backend) RemovePolicies(ps []engine.Policy) error {
	defer b.watch()
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	for _, p := range ps {
		k := policyKey{p.Dir, p.Selector}
		stack := b.policies[k]
		i := len(stack) - 1
		for i >= 0 && !samePolicy(stack[i].p, p) {
			i--
		}
		if i < 0 {
			if first == nil {
				first = fmt.Errorf("%w: policy %s", ErrNotFound, p)
			}
			continue
		}
		if stack[i].n > 1 {
			stack[i].n--
			continue
		}
		stack = slices.Delete(slices.Clone(stack), i, i+1)
		if len(stack) > 0 {
			b.policies[k] = stack
			continue
		}
		delete(b.policies, k)
		b.order = slices.DeleteFunc(b.order, func(o policyKey) bool { return o == k })
	}
	return first
}

func samePolicy(a, b engine.Policy) bool {
	return a.Dir == b.Dir && a.Selector == b.Selector && a.Mode == b.Mode && a.Local == b.Local &&
		a.Remote == b.Remote && slices.Equal(a.Protocols, b.Protocols) && a.ReqID == b.ReqID && a.Priority == b.Priority
}

// Flush forgets everything.
func (b *Backend) Flush() error {
	defer b.watch()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expiries.stopAll()
	clear(b.sas)
	clear(b.larval)
	clear(b.policies)
	b.order = nil
	return nil
}

// SAs returns a copy of every installed SA, inbound first, then by SPI.
func (b *Backend) SAs() []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Record, 0, len(b.sas))
	for _, e := range b.sas {
		r := e.record()
		r.SA = copySA(r.SA)
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y Record) int {
		if x.Inbound != y.Inbound {
			if x.Inbound {
				return -1
			}
			return 1
		}
		return int(int64(x.Ref.SPI) - int64(y.Ref.SPI))
	})
	return out
}

// Lookup returns the SA a reference names.
func (b *Backend) Lookup(ref engine.SARef) (Record, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.sas[keyOf(ref)]
	if !ok {
		return Record{}, false
	}
	r := e.record()
	r.SA = copySA(r.SA)
	return r, true
}

// Bytes is the byte counter of the SA a reference names (what Account
// added), for ikectl list-sas: Lookup without the copy of the SA.
func (b *Backend) Bytes(ref engine.SARef) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.sas[keyOf(ref)]
	if !ok {
		return 0, false
	}
	return e.bytes, true
}

// Reserved reports how many SPIs are allocated but not yet installed.
func (b *Backend) Reserved() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.larval)
}

// watch tells Options.Watch the policies in force (b.mu not held).
func (b *Backend) watch() {
	if b.opts.Watch != nil {
		b.opts.Watch(b.Policies())
	}
}

// Policies returns the installed policies in installation order.
func (b *Backend) Policies() []engine.Policy {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]engine.Policy, 0, len(b.order))
	for _, k := range b.order {
		p := b.top(k)
		p.Protocols = slices.Clone(p.Protocols)
		out = append(out, p)
	}
	return out
}

// Packet simulates an outbound packet (the selector's Local is its source):
// if it matches an outbound policy whose SAs are not installed, the backend
// reports ACQUIRE as the kernel does, and Packet returns true.
func (b *Backend) Packet(pkt engine.Selector) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.order {
		p := b.top(k)
		if p.Dir != engine.DirOut || !matches(p.Selector, pkt) {
			continue
		}
		dst := p.Remote
		if p.Mode == engine.ModeTransport {
			dst = pkt.Remote.Addr()
		}
		chain := p.Chain()
		for _, e := range b.sas {
			if !e.inbound && e.bundle.reqID == p.ReqID && e.ref.Dst == dst && e.ref.Protocol == chain[0] {
				return false // an SA is there: the packet would be protected
			}
		}
		b.acqSeq++
		local, remote := p.Local, p.Remote
		if p.Mode == engine.ModeTransport {
			local, remote = pkt.Local.Addr(), pkt.Remote.Addr()
		}
		pol := p
		pol.Protocols = slices.Clone(p.Protocols)
		return b.notify(engine.Event{Kind: engine.EventAcquire, Protocol: chain[0], Acquire: &engine.Acquire{
			Selector: pkt, Local: local, Remote: remote, Protocol: chain[0], Mode: p.Mode,
			ReqID: p.ReqID, Seq: b.acqSeq, Policy: pol,
		}})
	}
	return false
}

// matches reports whether packet selector pkt (single addresses, concrete
// ports) falls inside policy selector sel.
func matches(sel, pkt engine.Selector) bool {
	if sel.Local.IsValid() && !sel.Local.Contains(pkt.Local.Addr()) {
		return false
	}
	if sel.Remote.IsValid() && !sel.Remote.Contains(pkt.Remote.Addr()) {
		return false
	}
	if sel.Protocol != 0 && sel.Protocol != pkt.Protocol {
		return false
	}
	if sel.LocalPort != 0 && sel.LocalPort != pkt.LocalPort {
		return false
	}
	if sel.RemotePort != 0 && sel.RemotePort != pkt.RemotePort {
		return false
	}
	return true
}

// keep stores a deep copy of s in e, as the kernel keeps its own copy of
// what it was given: the caller may reuse or wipe its bundle once it is
// installed. The algorithms live in the entry and both keys in one
// allocation, each key capped so that it cannot grow into the other.
func (e *entry) keep(s engine.SA) {
	var keys []byte
	if n := keyLen(s); n > 0 {
		keys = make([]byte, 0, n)
	}
	if s.Encryption != nil {
		e.enc = *s.Encryption
		e.enc.Key, keys = cloneInto(keys, s.Encryption.Key)
		s.Encryption = &e.enc
	}
	if s.Integrity != nil {
		e.integ = *s.Integrity
		e.integ.Key, _ = cloneInto(keys, s.Integrity.Key)
		s.Integrity = &e.integ
	}
	if s.Compression != nil {
		c := *s.Compression
		s.Compression = &c
	}
	e.sa = s
}

func keyLen(s engine.SA) int {
	n := 0
	if s.Encryption != nil {
		n += len(s.Encryption.Key)
	}
	if s.Integrity != nil {
		n += len(s.Integrity.Key)
	}
	return n
}

// cloneInto copies k to the end of buf (which has room for it) and returns
// the copy, capped, and buf with it; an empty or nil key stays so, as
// slices.Clone keeps it.
func cloneInto(buf []byte, k engine.Key) (engine.Key, []byte) {
	if len(k) == 0 {
		return k[:0:0], buf
	}
	start := len(buf)
	buf = append(buf, k...)
	return engine.Key(buf[start:len(buf):len(buf)]), buf
}

func copySA(s engine.SA) engine.SA {
	if s.Encryption != nil {
		c := *s.Encryption
		c.Key = slices.Clone(c.Key)
		s.Encryption = &c
	}
	if s.Integrity != nil {
		a := *s.Integrity
		a.Key = slices.Clone(a.Key)
		s.Integrity = &a
	}
	if s.Compression != nil {
		c := *s.Compression
		s.Compression = &c
	}
	return s
}

// top is the policy in force for a key.
func (b *Backend) top(k policyKey) engine.Policy {
	stack := b.policies[k]
	return stack[len(stack)-1].p
}
