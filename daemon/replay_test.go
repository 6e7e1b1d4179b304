package daemon

import (
	"bytes"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
)

// TestIDHistoryBounded: the history keeps the last MessageIDHistory IDs,
// forgets the oldest first and says so; adding a known ID again updates
// it in place and evicts nothing.
func TestIDHistoryBounded(t *testing.T) {
	var h idHistory
	for i := uint32(1); i <= MessageIDHistory; i++ {
		if h.add(finishedID{id: i}) {
			t.Fatalf("eviction at %d of %d", i, MessageIDHistory)
		}
	}
	if h.add(finishedID{id: 5, reply: []byte("x")}) {
		t.Fatal("re-adding a known ID evicted one")
	}
	if f, ok := h.lookup(5); !ok || string(f.reply) != "x" {
		t.Fatalf("ID 5 after refresh: %+v %v", f, ok)
	}
	for i := uint32(MessageIDHistory + 1); i <= MessageIDHistory+10; i++ {
		if !h.add(finishedID{id: i}) {
			t.Fatalf("no eviction for %d past the limit", i)
		}
	}
	for i := uint32(1); i <= MessageIDHistory+10; i++ {
		_, ok := h.lookup(i)
		if want := i > 10; ok != want {
			t.Errorf("ID %d remembered %v, want %v", i, ok, want)
		}
	}
	if len(h.ring) != MessageIDHistory {
		t.Errorf("history holds %d IDs", len(h.ring))
	}
}

// phase2Handler answers every new exchange once and is done at once (as
// a Quick Mode responder after QM3, or an informational: nil exchange).
type phase2Handler struct {
	mu     sync.Mutex
	starts int
	open   bool // return an exchange (Quick Mode) rather than none (informational)
}

func (p *phase2Handler) Start(c *Context, pk *Packet) (Exchange, Result) {
	p.mu.Lock()
	p.starts++
	p.mu.Unlock()
	reply := message(c.SA.Cookies.I, c.SA.Cookies.R, pk.Header.Exchange, pk.Header.MessageID, []byte("ack"))
	if !p.open {
		return nil, Result{Send: reply}
	}
	return &echo{mu: &sync.Mutex{}, calls: new(int), timedOut: new(int), state: "done"}, Result{Send: reply, Done: true}
}

func (p *phase2Handler) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// sendTwice sends msg twice and checks the one answer to each: they must
// be the same bytes (the second from the reply cache).
func sendTwice(t *testing.T, h *harness, msg []byte) {
	t.Helper()
	h.send(h.peer, 500, msg)
	first := recvAll(h.peer)
	h.send(h.peer, 500, msg)
	again := recvAll(h.peer)
	if len(first) != 1 || len(again) != 1 || !bytes.Equal(first[0], again[0]) {
		t.Fatalf("answer %q, to the copy %q", first, again)
	}
}

// TestFinishedExchangeIDNotRestarted: a retransmitted Quick Mode message 1
// gets the cached reply while the reply cache holds it; after that the
// same message ID starts nothing and is counted as a replay.
func TestFinishedExchangeIDNotRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		qm := &phase2Handler{open: true}
		h, c := establishedWith(t, isakmp.ExchangeQuickMode, qm)
		qm1 := message(c.I, c.R, isakmp.ExchangeQuickMode, 0x51, []byte("qm1"))
		sendTwice(t, h, qm1)
		time.Sleep(h.d.settings.ReplyCacheTime + time.Second)
		h.send(h.peer, 500, qm1)
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeQuickMode, 0x51, []byte("qm1-other")))
		if got := recvAll(h.peer); len(got) != 0 {
			t.Errorf("answers to a finished message ID: %q", got)
		}
		if n := qm.count(); n != 1 {
			t.Errorf("Quick Mode started %d times, want 1", n)
		}
		if n := h.d.Counters.Dropped(DropReplay); n != 2 {
			t.Errorf("replay drops %d, want 2", n)
		}
		// A fresh message ID still starts an exchange.
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeQuickMode, 0x52, []byte("qm1")))
		if n := qm.count(); n != 2 {
			t.Errorf("fresh message ID: %d starts, want 2", n)
		}
	})
}

// TestInformationalIDOnce: an informational is acted on once per message
// ID; an identical copy of one we answered (a retransmitted R-U-THERE)
// gets the same answer again without reaching the handler, as strongSwan
// does; a different message with the ID is dropped; a fresh ID works.
func TestInformationalIDOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inf := &phase2Handler{}
		h, c := establishedWith(t, isakmp.ExchangeInformational, inf)
		sendTwice(t, h, message(c.I, c.R, isakmp.ExchangeInformational, 0x77, []byte("r-u-there")))
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0x77, []byte("initial-contact")))
		if got := recvAll(h.peer); len(got) != 0 {
			t.Errorf("answer to a replayed ID: %q", got)
		}
		if n := inf.count(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		if n := h.d.Counters.Dropped(DropReplay); n != 1 {
			t.Errorf("replay drops %d, want 1", n)
		}
		if n := h.d.Counters.CachedReplies.Load(); n != 1 {
			t.Errorf("cached replies %d, want 1", n)
		}
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0x78, []byte("r-u-there")))
		if n := inf.count(); n != 2 {
			t.Errorf("fresh message ID: handler ran %d times, want 2", n)
		}
	})
}

// establishedWith starts a daemon whose handler of exchange type typ is
// h2 and establishes an ISAKMP SA by its initiator.
func establishedWith(t *testing.T, typ isakmp.ExchangeType, h2 Handler) (*harness, Cookies) {
	t.Helper()
	h := newHarness(t, testSettings(), func(d *Daemon) {
		d.RegisterInitiator(&echoHandler{})
		d.Register(typ, h2)
	})
	return h, establish(t, h)
}
