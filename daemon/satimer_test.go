package daemon

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
)

// lifeWatcher is a test Watcher: once an SA is established it arms the
// timers the test asks for, and it records every removal with its reason.
type lifeWatcher struct {
	mu      sync.Mutex
	arm     func(c *Context)
	est     int
	removed []string
	fired   []string
}

func (w *lifeWatcher) SAEstablished(c *Context) Result {
	w.mu.Lock()
	w.est++
	w.mu.Unlock()
	if w.arm != nil {
		w.arm(c)
	}
	return Result{}
}

func (w *lifeWatcher) SARemoved(c *Context, why RemoveReason) Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed = append(w.removed, why.String())
	if len(c.SA.timers) != 0 {
		w.removed = append(w.removed, "timers left")
	}
	return Result{}
}

func (w *lifeWatcher) note(s string, at time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fired = append(w.fired, fmt.Sprintf("%s@%v", s, at))
}

func (w *lifeWatcher) get() (est int, removed, fired []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.est, append([]string(nil), w.removed...), append([]string(nil), w.fired...)
}

// establish initiates c1 through the echo initiator and answers it, so
// that one SA is established; it returns the SA's cookies.
func establish(t *testing.T, h *harness) Cookies {
	t.Helper()
	var err error
	h.onLoop(func() { err = h.d.initiate("c1") })
	if err != nil {
		t.Fatal(err)
	}
	var first [][]byte
	for _, b := range recvAll(h.peer) {
		if exchangeOf(b) == isakmp.ExchangeMain && [8]byte(b[8:16]) == ([8]byte{}) {
			first = append(first, b)
		}
	}
	if len(first) != 1 {
		t.Fatalf("%d first messages", len(first))
	}
	ic := [8]byte(first[0][:8])
	h.send(h.peer, 500, message(ic, cookie(9), isakmp.ExchangeMain, 0, []byte("answer")))
	return Cookies{ic, cookie(9)}
}

// TestSATimers: a watcher arms per-SA timers when the SA is established.
// They run on the loop at their virtual times with the SA's Context: a
// repeating one sends a raw datagram (no non-ESP marker) every 10 s, a
// re-armed one fires once at its new time, a cancelled one never, and one
// at 35 s removes the SA with a reason; the SA's other timers stop with it
// and the watchers hear why.
func TestSATimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		w := &lifeWatcher{}
		var start time.Time
		var tick TimerFunc
		tick = func(c *Context) Result {
			w.note("tick", c.Now.Sub(start))
			c.At("tick", c.Now.Add(10*time.Second), tick)
			return Result{Raw: []byte{0xff}}
		}
		w.arm = func(c *Context) {
			start = c.Now
			c.At("tick", c.Now.Add(10*time.Second), tick)
			c.At("moved", c.Now.Add(5*time.Second), func(c *Context) Result { w.note("moved-early", c.Now.Sub(start)); return Result{} })
			c.At("moved", c.Now.Add(22*time.Second), func(c *Context) Result { w.note("moved", c.Now.Sub(start)); return Result{} })
			c.At("cancelled", c.Now.Add(3*time.Second), func(c *Context) Result { w.note("cancelled", 0); return Result{} })
			c.Cancel("cancelled")
			c.At("late", c.Now.Add(time.Hour), func(c *Context) Result { w.note("late", 0); return Result{} })
			c.At("end", c.Now.Add(35*time.Second), func(c *Context) Result {
				w.note("end", c.Now.Sub(start))
				if c.TimerAt("late").IsZero() {
					w.note("late-not-armed", 0)
				}
				return Result{DeleteSA: true, Why: RemoveExpired}
			})
		}
		h := newHarness(t, testSettings(), func(d *Daemon) { d.RegisterInitiator(eh); d.Watch(w) })
		ck := establish(t, h)
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		est, removed, fired := w.get()
		if est != 1 {
			t.Fatalf("established %d times", est)
		}
		if got, want := fmt.Sprint(fired), "[tick@10s tick@20s moved@22s tick@30s end@35s]"; got != want {
			t.Errorf("timers ran %s, want %s", got, want)
		}
		if got := fmt.Sprint(removed); got != "[lifetime expired]" {
			t.Errorf("watcher heard %s", got)
		}
		var raws int
		for _, b := range recvAll(h.peer) {
			if len(b) == 1 && b[0] == 0xff {
				raws++
			}
		}
		if raws != 3 || h.d.Counters.KeepalivesSent.Load() != 3 {
			t.Errorf("peer got %d raw 0xff datagrams (counter %d), want 3", raws, h.d.Counters.KeepalivesSent.Load())
		}
		if n := h.d.Counters.SARemoved[RemoveExpired].Load(); n != 1 {
			t.Errorf("expired counter %d", n)
		}
		h.onLoop(func() {
			if h.d.sas[ck] != nil {
				t.Error("SA still in the table")
			}
		})
	})
}

// TestWatcherReasons: the watchers hear each SA leave once, with why:
// a half-open responder SA that expires, an SA that ikectl terminate
// deletes (after the Deleter said goodbye), and one that another SA's
// call removes (Context.Remove, as INITIAL-CONTACT does).
func TestWatcherReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		w := &lifeWatcher{}
		del := &countDeleter{}
		h := newHarness(t, testSettings(), func(d *Daemon) {
			d.Register(isakmp.ExchangeMain, eh)
			d.RegisterInitiator(eh)
			d.RegisterDeleter(del)
			d.Watch(w)
		})
		// A first message that never completes: half-open until it expires.
		h.send(h.peer, 500, message(cookie(1), [8]byte{}, isakmp.ExchangeMain, 0, []byte("hello")))
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if _, removed, _ := w.get(); fmt.Sprint(removed) != "[half-open expired]" {
			t.Fatalf("after half-open expiry: %v", removed)
		}
		recvAll(h.peer) // the responder's answer to the first message
		a := establish(t, h)
		recvAll(h.peer)
		h.onLoop(func() {
			if n := h.d.terminate(fmt.Sprintf("%x", a.I)); n != 1 {
				t.Errorf("terminate removed %d", n)
			}
		})
		if _, removed, _ := w.get(); fmt.Sprint(removed) != "[half-open expired terminated]" || del.n != 1 {
			t.Fatalf("after terminate: %v, deleter called %d times", removed, del.n)
		}
		b := establish(t, h)
		var gone, again bool
		h.onLoop(func() {
			sb := h.d.sas[b]
			other := &SA{Cookies: Cookies{cookie(5), cookie(6)}, Role: RoleResponder, exchanges: map[uint32]*running{}}
			h.d.sas[other.Cookies] = other
			c := &Context{Now: h.d.clock.Now(), d: h.d, SA: other}
			gone = c.Remove(sb, RemoveStale)
			again = c.Remove(sb, RemoveStale)
			h.d.removeSA(other, RemoveFailed)
		})
		if !gone || again {
			t.Errorf("Remove: first %v, second %v", gone, again)
		}
		_, removed, _ := w.get()
		if got := fmt.Sprint(removed); got != "[half-open expired terminated stale (INITIAL-CONTACT) negotiation failed]" {
			t.Errorf("reasons %s", got)
		}
	})
}

// countDeleter counts goodbyes and sends one message each.
type countDeleter struct{ n int }

func (d *countDeleter) Delete(c *Context) Result {
	d.n++
	return Result{Send: message(c.SA.Cookies.I, c.SA.Cookies.R, isakmp.ExchangeInformational, 1, []byte("bye"))}
}
