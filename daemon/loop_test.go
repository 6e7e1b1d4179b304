package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

var (
	ourAddr  = netip.MustParseAddr("192.0.2.1")
	peerAddr = netip.MustParseAddr("192.0.2.2")
)

// harness is a daemon of package daemon's own tests, with the exchanges
// a test registers (setup), on the in-memory network with the memory
// engine. (Tests outside the package start daemons with the production
// wiring through stack/stacktest.)
type harness struct {
	t    testing.TB
	d    *Daemon
	net  *daemontest.Net
	log  *daemontest.LogBuffer
	eng  *memory.Backend // the engine's SAs and policies
	peer PacketConn      // 192.0.2.2:500
	natt PacketConn      // 192.0.2.2:4500
}

func testSettings() Settings {
	s := DefaultSettings()
	s.Listen = []netip.Addr{ourAddr}
	s.Engine = "none"
	s.ControlSocket = ""
	return s
}

// newHarness starts a daemon on the in-memory network with the memory
// engine; it must run inside a synctest bubble.
func newHarness(t *testing.T, s Settings, setup func(d *Daemon)) *harness {
	t.Helper()
	return newHarnessWith(t, s, []control.Conn{{Name: "c1"}}, setup)
}

func newHarnessConns(t *testing.T, conns []control.Conn, setup func(d *Daemon)) *harness {
	t.Helper()
	return newHarnessWith(t, testSettings(), conns, setup)
}

func newHarnessWith(t testing.TB, s Settings, conns []control.Conn, setup func(d *Daemon)) *harness {
	t.Helper()
	return startHarness(t, Options{
		ConfigFile: "test.yaml",
		Load: func(string) (*Loaded, []notify.Message, error) {
			return &Loaded{File: "test.yaml", Settings: s, Conns: conns}, nil, nil
		},
		Workers: 2,
	}, setup)
}

// startHarness starts a daemon with o, its network, engine and control
// options replaced by the harness's: the in-memory network, on which the
// peer's ports 500 and 4500 are open, and the memory engine (engine:
// none). It logs at debug level into h.log unless o.Log is set.
func startHarness(t testing.TB, o Options, setup func(d *Daemon)) *harness {
	t.Helper()
	return startHarnessOn(t, &daemontest.Net{}, o, setup)
}

// startHarnessNet starts a daemon as newHarness does, on net.
func startHarnessNet(t testing.TB, net *daemontest.Net, setup func(d *Daemon)) *harness {
	t.Helper()
	return startHarnessOn(t, net, Options{
		ConfigFile: "test.yaml",
		Load: func(string) (*Loaded, []notify.Message, error) {
			return &Loaded{File: "test.yaml", Settings: testSettings(), Conns: []control.Conn{{Name: "c1"}}}, nil, nil
		},
		Workers: 2,
	}, setup)
}

// startHarnessOn is startHarness on net.
func startHarnessOn(t testing.TB, net *daemontest.Net, o Options, setup func(d *Daemon)) *harness {
	t.Helper()
	h := &harness{t: t, net: net, log: &daemontest.LogBuffer{}, eng: memory.New(memory.Options{})}
	if o.Log == nil {
		lg, err := notify.NewLogger(notify.LogConfig{Level: "debug"}, h.log)
		if err != nil {
			t.Fatal(err)
		}
		o.Log = lg
	}
	lg := o.Log
	o.NewEngine = func(name string) (Engine, error) {
		if name != "none" {
			return nil, fmt.Errorf("engine %q", name)
		}
		return engine.New(h.eng, engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
	}
	o.Network, o.NoControl = h.net, true
	h.d = New(o)
	if setup != nil {
		setup(h.d)
	}
	var err error
	if h.peer, err = h.net.ListenUDP(netip.AddrPortFrom(peerAddr, 500)); err != nil {
		t.Fatal(err)
	}
	if h.natt, err = h.net.ListenUDP(netip.AddrPortFrom(peerAddr, 4500)); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Start(); err != nil {
		t.Fatalf("start: %v\n%s", err, h.log)
	}
	t.Cleanup(func() {
		h.d.Stop()
		h.peer.Close()
		h.natt.Close()
	})
	return h
}

// send delivers b from the peer's port 500 (or from another source) to
// the daemon's IKE port and lets the bubble settle.
func (h *harness) send(from PacketConn, port uint16, b []byte) {
	h.t.Helper()
	if err := from.WriteDatagram(Datagram{Data: b, Remote: netip.AddrPortFrom(ourAddr, port)}); err != nil {
		h.t.Fatal(err)
	}
	synctest.Wait()
}

// recv returns what has arrived at c, without waiting.
func recvAll(c PacketConn) [][]byte {
	synctest.Wait()
	var out [][]byte
	for _, d := range daemontest.Drain(c) {
		out = append(out, d.Data)
	}
	return out
}

func (h *harness) onLoop(f func()) {
	h.t.Helper()
	if !h.d.call(f) {
		h.t.Fatal("loop stopped")
	}
}

// message builds an ISAKMP message (RFC 2408, 3.1) with an opaque body.
func message(i, r [8]byte, ex isakmp.ExchangeType, id uint32, body []byte) []byte {
	b := append([]byte(nil), i[:]...)
	b = append(b, r[:]...)
	b = append(b, 0, isakmp.Version, byte(ex), 0)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint32(b, uint32(isakmp.HeaderLen+len(body)))
	return append(b, body...)
}

func cookie(n uint64) (c [8]byte) {
	binary.BigEndian.PutUint64(c[:], n)
	return c
}

// echo is a test exchange: as responder it answers every message with one
// reply computed in the worker pool; as initiator it sends one request and
// is done when any answer arrives.
type echo struct {
	mu       *sync.Mutex
	calls    *int
	timedOut *int
	state    string
}

func (e *echo) count() {
	e.mu.Lock()
	*e.calls++
	e.mu.Unlock()
}

func (e *echo) Consume(c *Context, p *Packet) Result {
	e.count()
	if bytes.Contains(p.Data, []byte("reject")) {
		return Result{Reject: errors.New("bad message")}
	}
	if bytes.Contains(p.Data, []byte("panic")) {
		panic("test exchange panics")
	}
	if e.state == "sent" {
		e.state = "done"
		return Result{Done: true, Established: true}
	}
	return Result{Work: func() any { return append([]byte(nil), p.Data[isakmp.HeaderLen:]...) }}
}

func (e *echo) Resume(c *Context, v any) Result {
	body, _ := v.([]byte)
	if bytes.Contains(body, []byte("badke")) {
		// What phase 1 does when our Diffie-Hellman finds the
		// peer's public value invalid.
		return Result{Reject: errors.New("invalid KE"), DeleteSA: true}
	}
	e.state = "replied"
	reply := message(c.SA.Cookies.I, c.SA.Cookies.R, isakmp.ExchangeMain, 0, append([]byte("re:"), body...))
	return Result{Send: reply}
}

func (e *echo) TimedOut(c *Context) Result {
	e.mu.Lock()
	*e.timedOut++
	e.mu.Unlock()
	return Result{Log: []notify.Message{notify.Phase1Failed("initiator", "192.0.2.1", "192.0.2.2", "timeout")}}
}

func (e *echo) State() string { return e.state }

type echoHandler struct {
	mu       sync.Mutex
	starts   int
	calls    int
	timedOut int
	natt     bool
}

func (h *echoHandler) Start(c *Context, p *Packet) (Exchange, Result) {
	h.mu.Lock()
	h.starts++
	h.natt = p.NATT
	h.mu.Unlock()
	ex := &echo{mu: &h.mu, calls: &h.calls, timedOut: &h.timedOut, state: "new"}
	return ex, ex.Consume(c, p)
}

func (h *echoHandler) Initiate(c *Context, conn string) (Exchange, Result, error) {
	c.SA.Remote = netip.AddrPortFrom(peerAddr, 500)
	c.SA.Local = netip.AddrPortFrom(ourAddr, 500)
	ex := &echo{mu: &h.mu, calls: &h.calls, timedOut: &h.timedOut, state: "sent"}
	return ex, Result{Send: message(c.SA.Cookies.I, [8]byte{}, isakmp.ExchangeMain, 0, []byte("hello")), Request: true}, nil
}

func (h *echoHandler) get() (starts, calls, timedOut int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.starts, h.calls, h.timedOut
}

// TestRetransmitDoubling initiates an exchange the peer never answers: the
// request goes out at 0, 2, 6, 14, 30 and 62 s (timeout 2 s doubling, 5
// tries), the exchange gives up at 126 s with a log line and TimedOut, and
// the SA is gone.
func TestRetransmitDoubling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.RegisterInitiator(eh) })
		start := time.Now()
		var times []time.Duration
		var mu sync.Mutex
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, err := h.peer.ReadDatagram(buf); err != nil {
					return
				}
				mu.Lock()
				times = append(times, time.Since(start))
				mu.Unlock()
			}
		}()
		var err error
		h.onLoop(func() { err = h.d.initiate("c1") })
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(125 * time.Second)
		synctest.Wait()
		if _, _, to := eh.get(); to != 0 {
			t.Fatal("gave up before the last timeout ran out")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := fmt.Sprint(times)
		mu.Unlock()
		if want := "[0s 2s 6s 14s 30s 1m2s]"; got != want {
			t.Errorf("sends at %s, want %s", got, want)
		}
		if _, _, to := eh.get(); to != 1 {
			t.Errorf("TimedOut called %d times", to)
		}
		if n := h.d.Counters.Retransmits.Load(); n != 5 {
			t.Errorf("retransmits %d, want 5", n)
		}
		if n := h.d.Counters.GaveUp.Load(); n != 1 {
			t.Errorf("gave-up %d", n)
		}
		h.onLoop(func() {
			if len(h.d.sas) != 0 || len(h.d.byInit) != 0 {
				t.Errorf("SA left after giving up: %d, %d", len(h.d.sas), len(h.d.byInit))
			}
		})
		log := h.log.String()
		for _, s := range []string{"giving up the exchange", "Phase-1 [initiator] between 192.0.2.1 and 192.0.2.2 failed; timeout"} {
			if !strings.Contains(log, s) {
				t.Errorf("log lacks %q", s)
			}
		}
	})
}

// TestRetransmitStopsOnAnswer: an answer ends the retransmission, the SA
// learns the responder cookie and is established.
func TestRetransmitStopsOnAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.RegisterInitiator(eh) })
		var err error
		h.onLoop(func() { err = h.d.initiate("c1") })
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		got := recvAll(h.peer)
		if len(got) != 2 {
			t.Fatalf("%d sends by 3 s, want 2", len(got))
		}
		icookie := [8]byte(got[0][:8])
		h.send(h.peer, 500, message(icookie, cookie(77), isakmp.ExchangeMain, 0, []byte("answer")))
		time.Sleep(10 * time.Minute)
		if n := len(recvAll(h.peer)); n != 0 {
			t.Errorf("%d sends after the answer", n)
		}
		h.onLoop(func() {
			sa := h.d.sas[Cookies{icookie, cookie(77)}]
			if sa == nil || !sa.Established {
				t.Fatalf("SA not established under the full cookie pair: %+v", h.d.sas)
			}
		})
	})
}

// TestCachedReply: a retransmitted first message is answered with the same
// reply, computed once; one arriving while the reply is computed is dropped.
func TestCachedReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		mm1 := message(cookie(1), [8]byte{}, isakmp.ExchangeMain, 0, []byte("sa-proposal"))
		h.send(h.peer, 500, mm1)
		first := recvAll(h.peer)
		if len(first) != 1 || !bytes.HasSuffix(first[0], []byte("re:sa-proposal")) {
			t.Fatalf("reply %q", first)
		}
		for range 3 {
			h.send(h.peer, 500, mm1)
			again := recvAll(h.peer)
			if len(again) != 1 || !bytes.Equal(again[0], first[0]) {
				t.Fatalf("retransmission answered with %q, want the cached %q", again, first[0])
			}
		}
		if starts, calls, _ := eh.get(); starts != 1 || calls != 1 {
			t.Errorf("handler started %d times, consumed %d messages; want 1, 1", starts, calls)
		}
		if n := h.d.Counters.CachedReplies.Load(); n != 3 {
			t.Errorf("cached replies %d, want 3", n)
		}
		// A different message on the same exchange is consumed normally.
		rc := [8]byte(first[0][8:16])
		h.send(h.peer, 500, message(cookie(1), rc, isakmp.ExchangeMain, 0, []byte("mm3")))
		if got := recvAll(h.peer); len(got) != 1 || !bytes.HasSuffix(got[0], []byte("re:mm3")) {
			t.Errorf("answer to MM3: %q", got)
		}
		// A rejected message changes nothing and is counted.
		h.send(h.peer, 500, message(cookie(1), rc, isakmp.ExchangeMain, 0, []byte("reject")))
		if n := h.d.Counters.Dropped(DropRejected); n != 1 {
			t.Errorf("rejected %d", n)
		}
		if got := recvAll(h.peer); len(got) != 0 {
			t.Errorf("answer to a rejected message: %q", got)
		}
	})
}

// TestHalfOpenLimit: beyond half-open-max, first messages are dropped and
// counted; unauthenticated SAs expire and make room again.
func TestHalfOpenLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.HalfOpenMax, s.LoadHalfOpen = 3, 3
		eh := &echoHandler{}
		h := newHarness(t, s, func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		for i := range 5 {
			src, err := h.net.ListenUDP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), 500))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			h.send(src, 500, message(cookie(uint64(100+i)), [8]byte{}, isakmp.ExchangeMain, 0, []byte("x")))
		}
		h.onLoop(func() {
			if h.d.halfOpen != 3 || len(h.d.sas) != 3 {
				t.Errorf("half-open %d, SAs %d; want 3, 3", h.d.halfOpen, len(h.d.sas))
			}
		})
		if n := h.d.Counters.Dropped(DropHalfOpen); n != 2 {
			t.Errorf("half-open drops %d, want 2", n)
		}
		time.Sleep(s.HalfOpenLifetime + time.Second)
		synctest.Wait()
		h.onLoop(func() {
			if h.d.halfOpen != 0 || len(h.d.sas) != 0 || len(h.d.firsts) != 0 {
				t.Errorf("after expiry: half-open %d, SAs %d, firsts %d", h.d.halfOpen, len(h.d.sas), len(h.d.firsts))
			}
		})
		if n := h.d.Counters.HalfOpenExpiry.Load(); n != 3 {
			t.Errorf("expired %d, want 3", n)
		}
		h.send(h.peer, 500, message(cookie(200), [8]byte{}, isakmp.ExchangeMain, 0, []byte("y")))
		if got := recvAll(h.peer); len(got) != 1 {
			t.Errorf("first message after expiry: %d replies", len(got))
		}
	})
}

// TestRateLimit: below the load mark a source starts SAs freely; from it
// on (admission.go) it may start burst SAs at once, then rate per second.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.LoadHalfOpen, s.RateLimit, s.RateBurst = 3, 1, 4
		eh := &echoHandler{}
		h := newHarness(t, s, func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		// 3 below the mark, then 4 from the bucket, then 2 refused.
		for i := range 9 {
			h.send(h.peer, 500, message(cookie(uint64(300+i)), [8]byte{}, isakmp.ExchangeMain, 0, nil))
		}
		if n := h.d.Counters.Dropped(DropRateLimit); n != 2 {
			t.Errorf("rate-limited %d, want 2", n)
		}
		time.Sleep(time.Second)
		h.send(h.peer, 500, message(cookie(400), [8]byte{}, isakmp.ExchangeMain, 0, nil))
		if n := h.d.Counters.Dropped(DropRateLimit); n != 2 {
			t.Errorf("after a second: rate-limited %d, want still 2", n)
		}
		if starts, _, _ := eh.get(); starts != 8 {
			t.Errorf("started %d, want 8", starts)
		}
	})
}

// TestNATTPort: keepalives are counted and dropped, ESP is dropped, an IKE
// message loses its marker on the way in and gets one on the way out.
func TestNATTPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		h.send(h.natt, 4500, []byte{0xff})
		h.send(h.natt, 4500, []byte{0xff})
		h.send(h.natt, 4500, []byte{0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9})
		if n := h.d.Counters.Keepalives.Load(); n != 2 {
			t.Errorf("keepalives %d", n)
		}
		if n := h.d.Counters.Dropped(DropESP); n != 1 {
			t.Errorf("ESP drops %d", n)
		}
		mm := message(cookie(0x0102030405060708), [8]byte{}, isakmp.ExchangeMain, 0, []byte("natt"))
		h.send(h.natt, 4500, frameNATT(mm))
		if _, _, _ = eh.get(); !eh.natt {
			t.Error("packet not marked as from the NAT-T port")
		}
		// The SA's addresses are the NAT-T port: the reply carries the marker.
		got := recvAll(h.natt)
		if len(got) != 1 || !bytes.Equal(got[0][:4], []byte{0, 0, 0, 0}) || !bytes.HasSuffix(got[0], []byte("re:natt")) {
			t.Fatalf("reply on 4500: %x", got)
		}
		if _, err := isakmp.ParseHeader(got[0][4:]); err != nil {
			t.Errorf("reply after the marker: %v", err)
		}
		// The same message without the marker is not IKE on this port.
		h.send(h.natt, 4500, mm)
		if n := h.d.Counters.Dropped(DropESP); n != 2 {
			t.Errorf("unmarked message: ESP drops %d, want 2", n)
		}
	})
}

// TestPanicContained: an exchange that panics is counted and removed; the
// daemon goes on serving.
func TestPanicContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		h.send(h.peer, 500, message(cookie(9), [8]byte{}, isakmp.ExchangeMain, 0, []byte("panic")))
		if n := h.d.Counters.Dropped(DropPanic); n != 1 {
			t.Errorf("panics %d", n)
		}
		h.onLoop(func() {
			if len(h.d.sas) != 0 || h.d.halfOpen != 0 {
				t.Errorf("SA kept after a panic: %d, half-open %d", len(h.d.sas), h.d.halfOpen)
			}
		})
		h.send(h.peer, 500, message(cookie(10), [8]byte{}, isakmp.ExchangeMain, 0, []byte("ok")))
		if got := recvAll(h.peer); len(got) != 1 {
			t.Errorf("no answer after a panic: %d", len(got))
		}
	})
}

// TestUnknownSAAndNoHandler: messages for SAs that do not exist or exchange
// types with no handler are counted.
func TestUnknownSAAndNoHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testSettings(), nil)
		h.send(h.peer, 500, message(cookie(1), cookie(2), isakmp.ExchangeQuickMode, 5, nil))
		h.send(h.peer, 500, message(cookie(1), [8]byte{}, isakmp.ExchangeMain, 0, nil))
		h.send(h.peer, 500, message(cookie(1), [8]byte{}, isakmp.ExchangeQuickMode, 7, nil))
		h.send(h.peer, 500, message([8]byte{}, [8]byte{}, isakmp.ExchangeMain, 0, nil))
		for r, want := range map[Drop]uint64{DropNoSA: 1, DropNoHandler: 1, DropNotFirst: 1, DropZeroCookie: 1} {
			if n := h.d.Counters.Dropped(r); n != want {
				t.Errorf("%s: %d, want %d", r, n, want)
			}
		}
	})
}

func startWith(t *testing.T, mod func(o *Options)) (error, string) {
	t.Helper()
	buf := &daemontest.LogBuffer{}
	lg, _ := notify.NewLogger(notify.LogConfig{Level: "debug"}, buf)
	o := Options{
		ConfigFile: "p.yaml",
		Load: func(string) (*Loaded, []notify.Message, error) {
			return &Loaded{Settings: testSettings()}, nil, nil
		},
		NewEngine: func(string) (Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   &daemontest.Net{},
		Log:       lg,
		NoControl: true,
	}
	mod(&o)
	d := New(o)
	err := d.Start()
	if err == nil {
		d.Stop()
	}
	return err, buf.String()
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// TestStartFailures: each start-up failure logs its catalog message and
// asks for exit status 1; nothing after it runs.
func TestStartFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err, log := startWith(t, func(o *Options) { o.SelfTest = func() error { return errors.New("KAT mismatch") } })
		if exitCode(err) != 1 || !strings.Contains(log, "Could not start the cryptography system") || strings.Contains(log, "Initializing engine") {
			t.Errorf("self-test failure: %v\n%s", err, log)
		}

		err, log = startWith(t, func(o *Options) {
			o.NewEngine = func(string) (Engine, error) { return nil, errors.New("no netlink") }
		})
		if exitCode(err) != 1 || !strings.Contains(log, "IPSEC: Initializing engine") ||
			!strings.Contains(log, "Can not open connection with the packet processing engine.Check") {
			t.Errorf("engine failure: %v\n%s", err, log)
		}

		err, log = startWith(t, func(o *Options) {
			o.Load = func(string) (*Loaded, []notify.Message, error) {
				return nil, []notify.Message{notify.SPDLocalAddressDecode("x")}, nil
			}
		})
		if exitCode(err) != 1 || !strings.Contains(log, "SPD: Could not decode local-address of connection `x'") ||
			!strings.Contains(log, "SPD: Policy not instantiated due to errors.") || strings.Contains(log, "Initializing engine") {
			t.Errorf("refused policy: %v\n%s", err, log)
		}
		if n := strings.Count(log, "Policy not instantiated"); n != 1 {
			t.Errorf("message 21 logged %d times", n)
		}

		err, log = startWith(t, func(o *Options) {
			o.Network = failingNet{}
		})
		if exitCode(err) != 1 || !strings.Contains(log, "IPSEC: Detaching from the TCP/IP stack") {
			t.Errorf("bind failure must detach: %v\n%s", err, log)
		}

		err, log = startWith(t, func(*Options) {})
		if err != nil || !strings.Contains(log, "IPSEC: Attaching to the TCP/IP stack") || !strings.Contains(log, "IPSEC: Detaching from the TCP/IP stack") {
			t.Errorf("clean start and stop: %v\n%s", err, log)
		}
	})
}

type failingNet struct{}

func (failingNet) ListenUDP(netip.AddrPort) (PacketConn, error) {
	return nil, errors.New("address in use")
}

// TestInitiateStart: connections marked `initiate: start` are initiated at
// start-up through the registered initiator.
func TestInitiateStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarnessConns(t, []control.Conn{{Name: "c1", Initiate: "start"}, {Name: "c2", Initiate: "never"}}, func(d *Daemon) { d.RegisterInitiator(eh) })
		got := recvAll(h.peer)
		if len(got) != 1 {
			t.Fatalf("%d first messages, want 1 (c1 only)", len(got))
		}
		if hd, err := isakmp.ParseHeader(got[0]); err != nil || hd.Exchange != isakmp.ExchangeMain {
			t.Errorf("first message %v %v", hd, err)
		}
		sas := h.d.Control(control.Request{Command: control.CmdListSAs}).SAs
		if len(sas) != 1 || sas[0].Conn != "c1" || sas[0].Role != "initiator" || len(sas[0].Exchanges) != 1 || !sas[0].Exchanges[0].AwaitingReply {
			t.Errorf("list-sas %+v", sas)
		}
		// list-sas NAME: the SAs of one connection, or one SA by its cookie.
		for name, want := range map[string]int{"c1": 1, "c2": 0, sas[0].ICookie: 1, "0000000000000000": 0} {
			if got := h.d.Control(control.Request{Command: control.CmdListSAs, Name: name}).SAs; len(got) != want {
				t.Errorf("list-sas %s: %d SAs, want %d", name, len(got), want)
			}
		}
	})
}

// TestRegisterTwicePanics: a second handler for an exchange type, a
// second initiator, kernel handler, deleter or lister, and a nil one,
// panic when they are registered, as a second pattern does in
// http.ServeMux; the first registration stays.
func TestRegisterTwicePanics(t *testing.T) {
	eh := &echoHandler{}
	for name, register := range map[string]func(d *Daemon){
		"handler":   func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) },
		"initiator": func(d *Daemon) { d.RegisterInitiator(eh) },
		"deleter":   func(d *Daemon) { d.RegisterDeleter(deleterFunc(func(*Context) Result { return Result{} })) },
	} {
		t.Run(name, func(t *testing.T) {
			d := New(Options{})
			register(d)
			defer func() {
				if r := recover(); !strings.Contains(fmt.Sprint(r), "already registered") {
					t.Errorf("a second %s registered: recovered %v, want its panic", name, r)
				}
			}()
			register(d)
		})
	}
	t.Run("nil", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("a nil handler registered without a panic")
			}
		}()
		New(Options{}).Register(isakmp.ExchangeMain, nil)
	})
}

type deleterFunc func(*Context) Result

func (f deleterFunc) Delete(c *Context) Result { return f(c) }
