package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Engine is what the daemon needs of the packet processing engine;
// *engine.Engine has it. Submit never blocks.
type Engine interface {
	Open() error
	Submit(engine.Request) (dropped engine.Request)
	Events() <-chan engine.Event
	Stats() engine.QueueStats
	Close() error
}

// Options wire a daemon. Only Load and NewEngine are required.
type Options struct {
	ConfigFile string
	Load       Loader
	// NewEngine builds the engine the policy names (xfrm, none).
	NewEngine func(name string) (Engine, error)
	// SelfTest is the crypto start-up self-test (ikecrypto.SelfTest).
	SelfTest func() error
	Network  Network   // default SystemNetwork
	Clock    Clock     // default SystemClock
	Rand     io.Reader // default crypto/rand
	Log      *notify.Logger
	// LogLevel, when set, overrides the policy's daemon.log.level (iked -debug).
	LogLevel string
	Version  string
	Workers  int // worker pool size; default the number of CPUs
	// IOWorkers and IOQueue size the I/O pool of blocking jobs
	// (Result.IO: XAUTH backends): goroutines and waiting jobs; default
	// 8 and 64.
	IOWorkers, IOQueue int
	// NoControl skips the control socket (tests that drive the loop directly).
	NoControl bool
	// Unmatched, when set, drops and logs packets of the protected
	// ranges that arrive without IPsec (daemon.log-unmatched, xfrm engine).
	Unmatched Unmatched
}

// ExitError is a start-up failure with the process exit status it calls
// for; the catalog message has been logged already.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Daemon is the runtime. Create it with New, start it with Start, stop it
// with Stop (or Run, which does both around a signal channel).
type Daemon struct {
	opt      Options
	log      *notify.Logger
	clock    Clock
	rand     io.Reader
	settings Settings
	policy   *Loaded
	loadedAt time.Time
	started  time.Time
	Counters Counters

	eng    Engine
	conns  []*boundConn
	pool   *pool
	io     *ioPool // blocking jobs (Result.IO)
	ctl    *control.Server
	admit  *admission
	events chan event
	done   chan struct{}
	wg     sync.WaitGroup // readers, loop, control server

	handlers    map[isakmp.ExchangeType]Handler
	initiator   Initiator
	kernel      KernelHandler
	deleter     Deleter
	rekeyer     Rekeyer
	reauther    Reauthenticator
	lister      ChildLister
	leases      LeaseLister
	revalidator Revalidator
	watchers    []Watcher
	onPolicy    []func(*policymgr.Policy) error
	onStop      []func()
	sas         map[Cookies]*SA
	byInit      map[[8]byte]*SA // SAs we initiate, before the responder cookie is known
	firsts      map[firstKey]*SA
	reasm       reassembly // IKE fragments held (reassembly.go)
	// byConn indexes the established ISAKMP SAs by connection name and
	// peer address (EachEstablished, EachEstablishedWith), so that a
	// look-up for one connection made while each of many SAs is set up
	// does not scan them all.
	byConn       map[string]map[netip.Addr]*peerSet
	nEstablished int // how many SAs byConn holds: the established ones
	halfOpen     int
	refused      refusals
	blocked      blockList
	tokens       map[uint64]tokenRef
	nextToken    uint64
	begun        []begun
	contexts     []*Context // free for safeCall's next call (exchange.go)
	cheapDepth   int        // nested Result.Cheap runs (carryOut)
	outbox       []outgoing // datagrams the busy loop has yet to send (outbox.go)
	outboxBuf    []Datagram
	pendingInit  []string
	stopOnce     sync.Once
	// flushing: Stop has begun; the engine's Detach will flush what it
	// installed, so deletes are not queued (engine.go, mootAtStop).
	flushing bool

	metrics  *metrics
	hooks    *hooks
	observer *observer // started when metrics are served or a connection has an updown script
	keying   map[string]*keying
	starts   initiations
	overflow *overflow
	// overflowPaused: the loop left the overflow waiting for the engine
	// (engineBusy); a timer wakes it again.
	overflowPaused atomic.Bool
	timers         timerHeap // per-SA and the loop's own deadlines (satimer.go)
}

// KernelHandler receives what the engine reports on its own (ACQUIRE,
// EXPIRE); quickmode/ registers one to rekey and to initiate on demand.
type KernelHandler interface {
	Kernel(c *Context, ev engine.Event) Result
}

type tokenRef struct {
	sa  *SA
	run *running
	// then, for the daemon's own requests (sa nil), hears the answer.
	then func(engine.Event)
	// req is what an exchange submitted under the token when it puts
	// something into the engine (an SPI, a bundle, policies): an answer
	// that comes after the exchange or its ISAKMP SA ended is undone
	// (daemon/engine.go, undo).
	req engine.Request
}

type begun struct {
	sa  *SA
	run *running
	res Result
}

type boundConn struct {
	pc   PacketConn
	natt bool
}

// loopQueue bounds the events waiting for the loop; readers drop (and
// count) datagrams rather than wait when it is full.
const loopQueue = 4096

// New returns a daemon that has not started.
func New(opt Options) *Daemon {
	if opt.Network == nil {
		opt.Network = SystemNetwork{}
	}
	if opt.Clock == nil {
		opt.Clock = SystemClock{}
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Log == nil {
		opt.Log = notify.Nop()
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.IOWorkers <= 0 {
		opt.IOWorkers = defaultIOWorkers
	}
	if opt.IOQueue <= 0 {
		opt.IOQueue = defaultIOQueue
	}
	d := &Daemon{
		opt:      opt,
		log:      opt.Log,
		clock:    opt.Clock,
		rand:     opt.Rand,
		settings: DefaultSettings(),
		events:   make(chan event, loopQueue),
		overflow: newOverflow(),
		done:     make(chan struct{}),
		handlers: map[isakmp.ExchangeType]Handler{},
		sas:      map[Cookies]*SA{},
		byInit:   map[[8]byte]*SA{},
		firsts:   map[firstKey]*SA{},
		byConn:   map[string]map[netip.Addr]*peerSet{},
		tokens:   map[uint64]tokenRef{},
		hooks:    newHooks(opt.Log),
		admit:    newAdmission(),
	}
	d.timers.d = d
	d.metrics = newMetrics(d)
	return d
}

// Register installs the responder handler for an exchange type. Call it
// before Start. A second handler for the same type panics, as a second
// pattern does in http.ServeMux: wrap handlers instead (stack.Build builds
// the informational chain).
func (d *Daemon) Register(t isakmp.ExchangeType, h Handler) {
	if h == nil {
		panic(fmt.Sprintf("daemon: nil handler for %v", t))
	}
	if d.handlers[t] != nil {
		panic(fmt.Sprintf("daemon: a handler for %v is already registered", t))
	}
	d.handlers[t] = h
}

// RegisterInitiator installs what `ikectl initiate` calls; once.
func (d *Daemon) RegisterInitiator(i Initiator) { registerOnce(&d.initiator, i, "initiator") }

// RegisterKernel installs the receiver of ACQUIRE and EXPIRE; once.
func (d *Daemon) RegisterKernel(k KernelHandler) { registerOnce(&d.kernel, k, "kernel handler") }

// RegisterDeleter installs what says goodbye to peers on terminate and
// stop; once.
func (d *Daemon) RegisterDeleter(x Deleter) { registerOnce(&d.deleter, x, "deleter") }

// RegisterRekeyer installs what `ikectl rekey` calls; once.
func (d *Daemon) RegisterRekeyer(r Rekeyer) { registerOnce(&d.rekeyer, r, "rekeyer") }

// RegisterReauthenticator installs what `ikectl reauth` calls; once.
func (d *Daemon) RegisterReauthenticator(r Reauthenticator) {
	registerOnce(&d.reauther, r, "reauthenticator")
}

// registerOnce sets *slot to v, and panics if v is nil or *slot is
// already set.
func registerOnce[T comparable](slot *T, v T, what string) {
	var zero T
	if v == zero {
		panic("daemon: nil " + what)
	}
	if *slot != zero {
		panic("daemon: a " + what + " is already registered")
	}
	*slot = v
}

// Settings returns the settings of the policy in force (read them only
// before Start or from the loop).
func (d *Daemon) Settings() Settings { return d.settings }

// Start runs the start-up sequence: self-test (message 6), policy (its
// messages, 21), engine (message 1, then 4 on failure), kernel policies
// (message 2), sockets, control socket, loop. The policy is read before the
// engine is opened because it names the engine. On failure every catalog
// message has been logged and the error is an *ExitError.
func (d *Daemon) Start() error {
	if d.opt.SelfTest != nil {
		if err := d.opt.SelfTest(); err != nil {
			d.log.Emit(notify.CryptoStartFailed(), zap.Error(err))
			return &ExitError{1, err}
		}
	}
	loaded, msgs, err := d.opt.Load(d.opt.ConfigFile)
	if err != nil {
		// Message 5 is a reload's (the running policy stays); at start-up
		// there is none, so the file is a finding and the policy is not
		// instantiated, as `iked -check` reports it.
		d.log.Error("cannot read the policy file", zap.String("file", d.opt.ConfigFile), zap.Error(err))
		d.log.Emit(notify.SPDNotInstantiated())
		return &ExitError{1, err}
	}
	emitPolicyMessages(d.log, msgs, loaded == nil)
	if loaded == nil {
		return &ExitError{1, notify.SPDNotInstantiated()}
	}
	if err := loaded.Settings.Validate(); err != nil {
		d.log.Error(err.Error())
		return &ExitError{1, err}
	}
	d.applyPolicy(loaded)
	if err := d.policyInForce(loaded.Policy); err != nil {
		return &ExitError{1, err}
	}

	d.log.Emit(notify.EngineInitializing())
	eng, err := d.opt.NewEngine(d.settings.Engine)
	if err == nil {
		err = eng.Open()
	}
	if err != nil {
		var m notify.Message
		if !errors.As(err, &m) || m.Num != notify.EngineOpenFailed().Num {
			d.log.Emit(notify.EngineOpenFailed(), zap.Error(err))
		} else {
			d.log.Emit(m, zap.Error(err))
		}
		return &ExitError{1, err}
	}
	d.eng = eng
	if err := d.attach(); err != nil {
		d.eng.Close()
		return &ExitError{1, err}
	}
	d.installManual()
	if err := d.bind(); err != nil {
		d.log.Error("cannot bind the IKE sockets", zap.Error(err))
		d.detach()
		d.eng.Close()
		return &ExitError{1, err}
	}
	if d.settings.MetricsListen != "" {
		if err := d.metrics.serve(d.settings.MetricsListen, d.log.Error); err != nil {
			d.log.Error("cannot open the metrics listener", zap.String("listen", d.settings.MetricsListen), zap.Error(err))
			d.closeSockets()
			d.detach()
			d.eng.Close()
			return &ExitError{1, err}
		}
	}
	d.pool = newPool(d.opt.Workers)
	d.io = newIOPool(d.opt.IOWorkers, d.opt.IOQueue)
	if !d.opt.NoControl && d.settings.ControlSocket != "" {
		s, err := control.Listen(d.settings.ControlSocket, d.handleControl)
		if err != nil {
			d.log.Error("cannot open the control socket", zap.Error(err))
			d.metrics.close()
			d.closeSockets()
			d.pool.close()
			d.io.close()
			d.detach()
			d.eng.Close()
			return &ExitError{1, err}
		}
		s.HandleMonitor(d.monitor)
		s.HandleListSAs(d.listSAs)
		d.ctl = s
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := s.Serve(); err != nil {
				d.log.Error("control server stopped", zap.Error(err))
			}
		}()
	}
	d.applyUnmatched() // last: nothing after it fails and would leave the table
	d.started = d.clock.Now()
	d.observeIfWanted()
	for _, bc := range d.conns {
		d.wg.Add(1)
		go d.readLoop(bc)
	}
	d.wg.Add(1)
	go d.loop()
	d.call(d.initiateStartConns)
	d.log.Info("iked started", zap.String("version", d.opt.Version), zap.String("policy", d.opt.ConfigFile),
		zap.Strings("listening", d.listening()), zap.Int("pid", os.Getpid()))
	return nil
}

// emitPolicyMessages logs a policy check's messages, then message 21 when
// the policy was refused and the loader did not say so itself.
func emitPolicyMessages(log *notify.Logger, msgs []notify.Message, refused bool) {
	said21 := false
	for _, m := range msgs {
		log.Emit(m)
		said21 = said21 || m.Num == notify.SPDNotInstantiated().Num
	}
	if refused && !said21 {
		log.Emit(notify.SPDNotInstantiated())
	}
}

func (d *Daemon) applyPolicy(l *Loaded) {
	d.settings = l.Settings
	d.policy = l
	d.loadedAt = d.clock.Now()
	d.hooks.configure(l.Policy)
	if d.started != (time.Time{}) {
		d.observeIfWanted()
	}
	if d.opt.LogLevel != "" {
		_ = d.log.SetLevel(d.opt.LogLevel)
	} else if l.Settings.Log.Level != "" {
		if err := d.log.SetLevel(l.Settings.Log.Level); err != nil {
			d.log.Warn("log level not changed", zap.Error(err))
		}
	}
}

// Stop ends the daemon: sockets and control socket closed, the loop
// stopped, the SA tables dropped, the engine detached (message 3) and
// closed. It returns once everything has stopped.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		// Tell the peers while the loop and the sockets still run.
		d.call(func() {
			d.flushing = true
			n := 0
			for _, sa := range d.allSAs() {
				if sa.Established {
					d.deleteSA(sa, RemoveShutdown)
					n++
				}
			}
			if n > 0 {
				d.log.Info("ISAKMP SAs deleted at shutdown", zap.Int("count", n))
			}
		})
		d.metrics.close()
		close(d.done)
		d.closeSockets()
		if d.ctl != nil {
			d.ctl.Close()
		}
		d.wg.Wait()
		d.pool.close()
		d.io.close()
		d.stopKeying()
		d.dropAll()
		d.closeUnmatched()
		d.detach()
		if err := d.eng.Close(); err != nil {
			d.log.Warn("engine close", zap.Error(err))
		}
		d.stopObserver()
		for _, f := range d.onStop {
			f()
		}
		d.log.Info("iked stopped", zap.Duration("uptime", d.clock.Now().Sub(d.started)))
		_ = d.log.Sync()
	})
}

// dropAll forgets every SA after the loop stopped (the engine's Detach
// removes their kernel state).
func (d *Daemon) dropAll() {
	d.flushing = true
	d.timers.close()
	for _, sa := range d.allSAs() {
		d.removeSA(sa, RemoveShutdown)
	}
}

// stopping reports whether Stop has begun closing the sockets.
func (d *Daemon) stopping() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Signal is what Run reacts to: the signals cmd/iked turns into calls.
type Signal uint8

const (
	SignalReload Signal = iota + 1 // SIGHUP
	SignalStop                     // SIGTERM, SIGINT
)

// Run starts the daemon, serves until a SignalStop arrives on sig (a
// SignalReload reloads the policy), then stops it.
func (d *Daemon) Run(sig <-chan Signal) error {
	if err := d.Start(); err != nil {
		return err
	}
	for s := range sig {
		switch s {
		case SignalReload:
			d.Reload()
		case SignalStop:
			d.Stop()
			return nil
		}
	}
	d.Stop()
	return nil
}

// event is one thing for the loop to do. The loop's commonest events,
// a datagram and a worker's result, are values rather than closures, so
// that handing one over allocates nothing (docs/performance.md, "What
// stands between iked and 3x the floor").
type event struct {
	f   func()  // call it
	pkt *Packet // receive it
	// resume the exchange run on sa with v (a Work or IO result)
	sa  *SA
	run *running
	v   any
	due uint64 // not 0: the timer heap's Clock timer of this generation fired
}

// handle does one event on the loop.
func (d *Daemon) handle(ev event) {
	switch {
	case ev.f != nil:
		ev.f()
	case ev.pkt != nil:
		if informationalOfSA(ev.pkt) && d.engineBusy() && d.overflow.keep(ev.pkt) {
			// An informational datagram (a Delete of a burst) waits
			// in the overflow until the engine has caught up.
			d.Counters.EngineWaits.Add(1)
			return
		}
		d.receive(ev.pkt)
	case ev.run != nil:
		d.resume(ev.sa, ev.run, ev.v)
	case ev.due != 0:
		d.timers.due(ev.due)
	}
}

// post hands f to the loop, waiting if the queue is full; false once the
// daemon is stopping.
func (d *Daemon) post(f func()) bool { return d.postEvent(event{f: f}) }

// postEvent hands ev to the loop as post does.
func (d *Daemon) postEvent(ev event) bool {
	select {
	case d.events <- ev:
		return true
	case <-d.done:
		return false
	}
}

// tryPost hands ev to the loop without waiting.
func (d *Daemon) tryPost(ev event) bool {
	select {
	case d.events <- ev:
		return true
	default:
		return false
	}
}

// call runs f on the loop and waits for it. What f sent has left when
// call returns (outbox.go): Stop closes the sockets right after the
// Deletes its call sends.
func (d *Daemon) call(f func()) bool {
	ch := make(chan struct{})
	if !d.post(func() { f(); d.flushOutbox(); close(ch) }) {
		return false
	}
	select {
	case <-ch:
		return true
	case <-d.done:
		return false
	}
}

// loop is the one goroutine that owns the SA tables.
func (d *Daemon) loop() {
	defer d.wg.Done()
	evs := d.eng.Events()
	for {
		if len(d.outbox) > 0 && !d.queued() {
			d.flushOutbox()
		}
		select {
		case ev := <-d.events:
			d.handle(ev)
		case <-d.overflow.ready:
			if d.engineBusy() {
				if d.overflowPaused.CompareAndSwap(false, true) {
					d.Counters.EngineWaits.Add(1)
					d.clock.AfterFunc(overflowPause, func() {
						d.overflowPaused.Store(false)
						d.overflow.wake()
					})
				}
				continue
			}
			for _, p := range d.overflow.take() {
				d.receive(p)
			}
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			d.engineEvent(ev)
		case <-d.done:
			d.flushOutbox()
			return
		}
	}
}

// initiateStartConns starts the connections marked `initiate: start`
// (docs/policy-file.md), at start-up and after a reload, when phase 1 has
// registered an initiator: those that have no SA yet are queued, and
// begin as daemon.initiate-max and initiate-per-peer allow
// (initiating.go).
func (d *Daemon) initiateStartConns() {
	if d.initiator == nil || d.policy == nil {
		return
	}
	running := map[string]bool{}
	for _, sa := range d.sas {
		running[sa.Conn] = true
	}
	for _, sa := range d.byInit {
		running[sa.Conn] = true
	}
	for _, c := range d.policy.Conns {
		if c.Initiate == "start" && !running[c.Name] {
			d.queueStart(c.Name, d.peerOf(c.Name))
		}
	}
	d.startQueued()
}
