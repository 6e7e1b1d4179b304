package daemon

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/isakmp"
)

// TestPoolPriority: with the one worker busy, a queue of first jobs from
// one flooding address, one from another address and one high job: the
// high job runs first, then the addresses take turns, so the other
// address's job runs second, not after the flood.
func TestPoolPriority(t *testing.T) {
	p := newPool(1)
	defer p.close()
	flood, other := netip.MustParseAddr("198.51.100.66"), netip.MustParseAddr("198.51.100.7")
	gate := make(chan struct{})
	started := make(chan struct{})
	var mu sync.Mutex
	var order []string
	named := func(name string) job {
		return job{f: func() {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		}}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	p.submit(priorityHigh, other, highQueue, job{f: func() { close(started); <-gate }})
	<-started
	for i := range 5 {
		if !p.submit(priorityLow, flood, 5, named("flood"+string(rune('0'+i)))) {
			t.Fatalf("flood job %d refused below the limit", i)
		}
	}
	if p.submit(priorityLow, flood, 5, named("flood-over")) {
		t.Error("a sixth low job accepted with the limit at 5")
	}
	if !p.submit(priorityLow, other, 6, named("other-first")) {
		t.Fatal("low job of another address refused")
	}
	if !p.submit(priorityHigh, other, highQueue, named("quick-mode")) {
		t.Fatal("high job refused while the low queue is full")
	}
	if h, l := p.queued(); h != 1 || l != 6 {
		t.Errorf("queued high %d low %d, want 1 and 6", h, l)
	}
	p.submit(priorityLow, flood, 10, job{f: func() { wg.Done() }})
	close(gate)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"quick-mode", "flood0", "other-first", "flood1", "flood2", "flood3", "flood4"}
	if !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

// gatedWork is a handler whose exchanges ask for work that records its
// name when it starts, then waits for the gate, then answers.
type gatedWork struct {
	name  string
	gate  chan struct{}
	mu    *sync.Mutex
	order *[]string
	cheap bool // the work is Result.Cheap, and passes no gate
}

func (g *gatedWork) Start(c *Context, p *Packet) (Exchange, Result) {
	ex := &gatedExchange{g: g, id: p.Header.MessageID, typ: p.Header.Exchange}
	name := g.name
	if p.Remote.Addr() != floodAddr && name == "flood" {
		name = "legit" // a first message from another address
	}
	return ex, Result{Cheap: g.cheap, Work: func() any {
		g.mu.Lock()
		*g.order = append(*g.order, name)
		g.mu.Unlock()
		if !g.cheap {
			<-g.gate
		}
		return nil
	}}
}

type gatedExchange struct {
	g   *gatedWork
	id  uint32
	typ isakmp.ExchangeType
}

func (x *gatedExchange) Consume(c *Context, p *Packet) Result {
	return Result{Reject: errors.New("no")}
}
func (x *gatedExchange) TimedOut(c *Context) Result { return Result{} }
func (x *gatedExchange) State() string              { return "gated" }
func (x *gatedExchange) Resume(c *Context, v any) Result {
	return Result{Send: message(c.SA.Cookies.I, c.SA.Cookies.R, x.typ, x.id, []byte(x.g.name)), Done: true}
}

// quickModeAnswers counts the Quick Mode datagrams waiting at conn.
func quickModeAnswers(conn PacketConn) int {
	n := 0
	for _, b := range recvAll(conn) {
		if exchangeOf(b) == isakmp.ExchangeQuickMode {
			n++
		}
	}
	return n
}

// floodGated starts a daemon whose Main Mode first messages and Quick
// Modes ask for gatedWork (the Quick Mode's cheap when cheapQM),
// establishes an SA, and sends n first messages from floodAddr.
func floodGated(t *testing.T, gate chan struct{}, mu *sync.Mutex, order *[]string, cheapQM bool, n int) (*harness, Cookies, PacketConn) {
	flood := &gatedWork{name: "flood", gate: gate, mu: mu, order: order}
	qm := &gatedWork{name: "quick-mode", gate: gate, mu: mu, order: order, cheap: cheapQM}
	h := newHarness(t, testSettings(), func(d *Daemon) {
		d.RegisterInitiator(&echoHandler{})
		d.Register(isakmp.ExchangeMain, flood)
		d.Register(isakmp.ExchangeQuickMode, qm)
	})
	ck := establish(t, h)
	src := h.source(floodAddr)
	for i := range n {
		h.send(src, 500, message(cookie(uint64(7000+i)), [8]byte{}, isakmp.ExchangeMain, 0, []byte("x")))
	}
	return h, ck, src
}

// TestFloodKeepsQuickMode: both workers busy, 600 first messages from one
// address ask for work (more than the old shared queue of 256 held);
// then a Quick Mode on an established SA does, and a first message (an
// MM3's Diffie-Hellman) from another address. Nothing is dropped for pool
// space; the Quick Mode's work is the first to start when a worker frees,
// and the other address's after at most one more of the flood's.
func TestFloodKeepsQuickMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex
		var order []string
		h, ck, src := floodGated(t, gate, &mu, &order, false, 600)
		if hi, lo := h.d.pool.queued(); hi != 0 || lo != 598 {
			t.Errorf("queued high %d, low %d; want 0, 598 (two workers busy)", hi, lo)
		}
		h.send(h.peer, 500, message(ck.I, ck.R, isakmp.ExchangeQuickMode, 77, []byte("qm1")))
		legit := h.source(netip.MustParseAddr("203.0.113.9"))
		h.send(legit, 500, message(cookie(8000), [8]byte{}, isakmp.ExchangeMain, 0, []byte("x")))
		if n := h.d.Counters.Dropped(DropPoolFull); n != 0 {
			t.Errorf("pool-full drops %d, want 0", n)
		}
		close(gate)
		synctest.Wait()
		mu.Lock()
		if len(order) != 602 || order[2] != "quick-mode" || order[4] != "legit" {
			t.Errorf("%d jobs, starting %v; want 602, the third quick-mode, the fifth legit", len(order), order[:min(6, len(order))])
		}
		mu.Unlock()
		qmReplies := quickModeAnswers(h.peer)
		if qmReplies != 1 {
			t.Errorf("%d Quick Mode answers, want 1", qmReplies)
		}
		if got := recvAll(src); len(got) != 600 {
			t.Errorf("%d answers to the flood, want 600", len(got))
		}
		if got := recvAll(legit); len(got) != 1 {
			t.Errorf("%d answers to the other address, want 1", len(got))
		}
	})
}

// TestCheapWorkOnLoop: with both workers held by a flood's first
// messages, a Quick Mode whose work is Result.Cheap is answered at once:
// the loop ran its work itself (counted as work done), and the pool
// never saw it.
func TestCheapWorkOnLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex
		var order []string
		h, ck, src := floodGated(t, gate, &mu, &order, true, 3)
		done0 := h.d.Counters.WorkDone.Load()
		h.send(h.peer, 500, message(ck.I, ck.R, isakmp.ExchangeQuickMode, 77, []byte("qm1")))
		synctest.Wait()
		qmReplies := quickModeAnswers(h.peer)
		if qmReplies != 1 {
			t.Errorf("%d Quick Mode answers while the workers are busy, want 1", qmReplies)
		}
		if n := h.d.Counters.WorkDone.Load() - done0; n != 1 {
			t.Errorf("work done %d while the workers are busy, want 1 (the cheap one)", n)
		}
		if hi, lo := h.d.pool.queued(); hi != 0 || lo != 1 {
			t.Errorf("queued high %d, low %d; want 0, 1 (the third flood message)", hi, lo)
		}
		close(gate)
		synctest.Wait()
		if got := recvAll(src); len(got) != 3 {
			t.Errorf("%d answers to the flood, want 3", len(got))
		}
	})
}

// chainedWork is a handler whose Quick Mode asks for cheap work again
// and again from Resume, links times, then answers; maxDepth records
// how many cheap runs the loop was inside at a Resume (the daemon's own
// count, read on the loop).
type chainedWork struct {
	links    int
	maxDepth int
	d        *Daemon
}

func (h *chainedWork) Start(c *Context, p *Packet) (Exchange, Result) {
	x := &chainedExchange{h: h, id: p.Header.MessageID}
	return x, x.next()
}

type chainedExchange struct {
	h    *chainedWork
	id   uint32
	done int
}

func (x *chainedExchange) next() Result {
	return Result{Cheap: true, Work: func() any { return nil }}
}

func (x *chainedExchange) Consume(c *Context, p *Packet) Result {
	return Result{Reject: errors.New("no")}
}
func (x *chainedExchange) TimedOut(c *Context) Result { return Result{} }
func (x *chainedExchange) State() string              { return "chained" }
func (x *chainedExchange) Resume(c *Context, v any) Result {
	x.h.maxDepth = max(x.h.maxDepth, x.h.d.cheapDepth)
	if x.done++; x.done < x.h.links {
		return x.next()
	}
	return Result{Send: message(c.SA.Cookies.I, c.SA.Cookies.R, isakmp.ExchangeQuickMode, x.id, []byte("end")), Done: true}
}

// TestCheapWorkBounded: an exchange that asks for cheap work from every
// Resume, 50 times over, is carried to its end; past maxCheapDepth
// nested runs its work goes through the pool, so the loop's stack stays
// bounded.
func TestCheapWorkBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cw := &chainedWork{links: 50}
		h := newHarness(t, testSettings(), func(d *Daemon) {
			cw.d = d
			d.RegisterInitiator(&echoHandler{})
			d.Register(isakmp.ExchangeQuickMode, cw)
		})
		ck := establish(t, h)
		done0 := h.d.Counters.WorkDone.Load()
		h.send(h.peer, 500, message(ck.I, ck.R, isakmp.ExchangeQuickMode, 78, []byte("qm1")))
		synctest.Wait()
		replies := quickModeAnswers(h.peer)
		if replies != 1 {
			t.Errorf("%d answers, want 1", replies)
		}
		if n := h.d.Counters.WorkDone.Load() - done0; n != 50 {
			t.Errorf("work done %d, want 50", n)
		}
		if cw.maxDepth != maxCheapDepth {
			t.Errorf("cheap work resumed %d deep, want %d at most and reached", cw.maxDepth, maxCheapDepth)
		}
	})
}

// TestFairQueueOrder: the sources take turns in the order they got
// their first waiting job, each source's jobs run in the order pushed,
// whatever the pushes and pops interleave, and a queue that keeps
// emptying and filling allocates nothing of its own once warm.
func TestFairQueueOrder(t *testing.T) {
	q := fairQueue{bySrc: map[netip.Addr]*srcJobs{}}
	srcs := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("2001:db8::3")}
	var got []int
	numbered := func(i int) job { return job{f: func() { got = append(got, i) }} }
	// The model: per source FIFOs and a FIFO of turns.
	fifo := map[netip.Addr][]int{}
	var turns []netip.Addr
	var want []int
	// pop pops a job from q and from the model, runs it, and reports
	// whether there was one.
	pop := func() bool {
		j, ok := q.pop()
		if len(turns) == 0 {
			if ok {
				t.Fatal("a job popped from an empty queue")
			}
			return false
		}
		if !ok {
			t.Fatalf("no job popped, want one of %s", turns[0])
		}
		src := turns[0]
		turns = turns[1:]
		want = append(want, fifo[src][0])
		fifo[src] = fifo[src][1:]
		if len(fifo[src]) > 0 {
			turns = append(turns, src)
		}
		j.do()
		return true
	}
	next := 0
	for round := range 200 {
		for k := range round%4 + 1 {
			src := srcs[(round+k*k)%len(srcs)]
			if len(fifo[src]) == 0 {
				turns = append(turns, src)
			}
			fifo[src] = append(fifo[src], next)
			q.push(src, numbered(next))
			next++
		}
		for range round%3 + 1 {
			if !pop() {
				break
			}
		}
		if q.n != next-len(want) {
			t.Fatalf("round %d: n %d, want %d", round, q.n, next-len(want))
		}
	}
	for pop() {
	}
	if !slices.Equal(got, want) || len(got) != next {
		t.Fatalf("order %v,\nwant %v", got, want)
	}
	noop := job{f: func() {}}
	if n := testing.AllocsPerRun(100, func() {
		for _, src := range srcs {
			q.push(src, noop)
			q.push(src, noop)
		}
		for _, ok := q.pop(); ok; _, ok = q.pop() {
		}
	}); n != 0 {
		t.Errorf("%v allocations a round once warm, want 0", n)
	}
}
