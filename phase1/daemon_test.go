package phase1

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// lossyNet is an in-memory UDP network between daemons. drop decides, per
// datagram in sending order, whether it is lost.
type lossyNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*lossyConn
	n     int
	drop  func(n int, d daemon.Datagram) bool
}

type lossyConn struct {
	net    *lossyNet
	addr   netip.AddrPort
	inbox  chan daemon.Datagram
	closed chan struct{}
	once   sync.Once
}

func (n *lossyNet) ListenUDP(a netip.AddrPort) (daemon.PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = map[netip.AddrPort]*lossyConn{}
	}
	if n.conns[a] != nil {
		return nil, errors.New("address in use")
	}
	c := &lossyConn{net: n, addr: a, inbox: make(chan daemon.Datagram, 256), closed: make(chan struct{})}
	n.conns[a] = c
	return c, nil
}

func (c *lossyConn) ReadDatagram(buf []byte) (daemon.Datagram, error) {
	select {
	case d := <-c.inbox:
		d.Data = buf[:copy(buf, d.Data)]
		return d, nil
	case <-c.closed:
		return daemon.Datagram{}, net.ErrClosed
	}
}

func (c *lossyConn) WriteDatagram(d daemon.Datagram) error {
	n := c.net
	n.mu.Lock()
	idx := n.n
	n.n++
	dst := n.conns[d.Remote]
	lost := n.drop != nil && n.drop(idx, d)
	n.mu.Unlock()
	if dst == nil || lost {
		return nil
	}
	select {
	case dst.inbox <- daemon.Datagram{Data: append([]byte(nil), d.Data...), Local: d.Remote, Remote: c.addr}:
	default:
	}
	return nil
}

func (c *lossyConn) LocalAddr() netip.AddrPort { return c.addr }
func (c *lossyConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
	})
	return nil
}

// watched wraps Runtime to see what the daemon's loop does with phase 1:
// how many messages each exchange consumed, and whether it established.
type watched struct {
	rt          *Runtime
	consumed    atomic.Int32
	established atomic.Bool
	failed      atomic.Bool
}

type watchedEx struct {
	w  *watched
	ex daemon.Exchange
}

func (w *watched) note(r daemon.Result) daemon.Result {
	if r.Established {
		w.established.Store(true)
	}
	if r.DeleteSA {
		w.failed.Store(true)
	}
	return r
}

func (w *watched) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	ex, r := w.rt.Start(c, p)
	w.consumed.Add(1)
	if ex == nil {
		return nil, w.note(r)
	}
	return &watchedEx{w, ex}, w.note(r)
}

func (w *watched) Initiate(c *daemon.Context, conn string) (daemon.Exchange, daemon.Result, error) {
	ex, r, err := w.rt.Initiate(c, conn)
	if ex == nil {
		return nil, r, err
	}
	return &watchedEx{w, ex}, w.note(r), err
}

func (e *watchedEx) Consume(c *daemon.Context, p *daemon.Packet) daemon.Result {
	r := e.ex.Consume(c, p)
	if r.Reject == nil {
		e.w.consumed.Add(1)
	}
	return e.w.note(r)
}
func (e *watchedEx) Resume(c *daemon.Context, v any) daemon.Result {
	return e.w.note(e.ex.Resume(c, v))
}
func (e *watchedEx) TimedOut(c *daemon.Context) daemon.Result { return e.w.note(e.ex.TimedOut(c)) }
func (e *watchedEx) State() string                            { return e.ex.State() }

// startDaemon runs one daemon with phase 1 registered, on addr.
func startDaemon(t *testing.T, nw *lossyNet, addr netip.AddrPort, p *policymgr.Policy, initiate bool) (*daemon.Daemon, *watched) {
	t.Helper()
	w := &watched{rt: &Runtime{}}
	st := daemon.DefaultSettings()
	st.Listen = []netip.Addr{addr.Addr()}
	st.NATTPort = 0
	st.Engine = "none"
	st.ControlSocket = ""
	st.RetransmitBase = 100 * time.Millisecond
	conn := control.Conn{Name: "c", Initiate: "never"}
	if initiate {
		conn.Initiate = "start"
	}
	d := daemon.New(daemon.Options{
		Load: func(string) (*daemon.Loaded, []notify.Message, error) {
			return &daemon.Loaded{Settings: st, Conns: []control.Conn{conn}, Policy: p}, nil, nil
		},
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{}), nil
		},
		Network:   nw,
		NoControl: true,
		Workers:   2,
	})
	d.Register(isakmp.ExchangeMain, w)
	d.Register(isakmp.ExchangeAggressive, w)
	d.RegisterInitiator(w)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d, w
}

// TestDaemonRetransmissionGetsCachedReply runs both roles inside real
// daemon loops (worker pool, timers, reply cache) over an in-memory network
// that loses the responder's first MM4. The initiator retransmits MM3; the
// responder's daemon answers from its cache without handing MM3 to the
// exchange again, and both sides establish.
func TestDaemonRetransmissionGetsCachedReply(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			a, b := pskPair(mode)
			nw := &lossyNet{}
			lostOnce := false
			// Lose the responder's second message of Main Mode (MM4), or
			// its only one of Aggressive Mode (AM2).
			want := 2
			if mode == "aggressive" {
				want = 1
			}
			seen := 0
			nw.drop = func(n int, d daemon.Datagram) bool {
				if d.Remote.Addr() != addrA.Addr() || lostOnce {
					return false
				}
				seen++
				if seen == want {
					lostOnce = true
					return true
				}
				return false
			}
			dB, wB := startDaemon(t, nw, addrB, policyFor(t, b), false)
			dA, wA := startDaemon(t, nw, addrA, policyFor(t, a), true)
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && !(wA.established.Load() && wB.established.Load()) {
				time.Sleep(10 * time.Millisecond)
			}
			if !wA.established.Load() || !wB.established.Load() {
				t.Fatalf("not established: A=%v B=%v", wA.established.Load(), wB.established.Load())
			}
			if !lostOnce {
				t.Fatal("nothing was lost")
			}
			if dA.Counters.Retransmits.Load() == 0 {
				t.Fatal("the initiator did not retransmit")
			}
			if dB.Counters.CachedReplies.Load() == 0 {
				t.Fatal("the responder did not answer from its cache")
			}
			// Main Mode responder consumes MM1, MM3, MM5; Aggressive AM1, AM3:
			// the retransmission was not consumed a second time.
			if got, wantN := wB.consumed.Load(), int32(3); mode == "main" && got != wantN {
				t.Fatalf("responder consumed %d messages, want %d", got, wantN)
			}
			if got := wB.consumed.Load(); mode == "aggressive" && got != 2 {
				t.Fatalf("responder consumed %d messages, want 2", got)
			}
		})
	}
}
