package daemon

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
)

// TestIDHistoryRemembersAll: the history remembers every ID it was
// given, not a window: after 1,000 IDs the first is still known, with its
// message and answer only while it is among the last MessageIDHistory.
// Adding a known ID refreshes its recent entry. At MaxMessageIDs it takes
// no more and says so.
func TestIDHistoryRemembersAll(t *testing.T) {
	var h idHistory
	// Random-looking IDs, as peers choose them (RFC 2408, 3.1).
	id := func(i int) uint32 { return uint32(i)*2654435761 + 7 }
	for i := range 1000 {
		if !h.add(finishedID{id: id(i), reply: []byte{byte(i)}}) {
			t.Fatalf("add %d refused", i)
		}
	}
	for i := range 1000 {
		f, ok := h.lookup(id(i))
		if !ok {
			t.Fatalf("ID %d (%#x) forgotten", i, id(i))
		}
		if recent := i >= 1000-MessageIDHistory; recent != (f.reply != nil) {
			t.Errorf("ID %d: answer kept %v, want %v", i, f.reply != nil, recent)
		}
	}
	if _, ok := h.lookup(12345); ok {
		t.Error("an ID never added is known")
	}
	if !h.add(finishedID{id: id(999), reply: []byte("x")}) || h.len() != 1000 {
		t.Fatal("re-adding a known ID")
	}
	if f, _ := h.lookup(id(999)); string(f.reply) != "x" {
		t.Errorf("recent entry not refreshed: %q", f.reply)
	}
	if !slices.IsSorted(h.all) || len(h.ring) != MessageIDHistory {
		t.Errorf("sorted %v, ring %d", slices.IsSorted(h.all), len(h.ring))
	}

	var full idHistory
	for i := range MaxMessageIDs {
		full.add(finishedID{id: uint32(i + 1)})
	}
	if full.full() != true || full.add(finishedID{id: MaxMessageIDs + 1}) {
		t.Error("a full history took another ID")
	}
	if _, ok := full.lookup(1); !ok {
		t.Error("a full history forgot its first ID")
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

// checkReplays checks that nothing was answered since the last look, that
// the handler started starts exchanges and that drops datagrams were
// dropped as replays.
func checkReplays(t *testing.T, h *harness, p *phase2Handler, starts int, drops uint64) {
	t.Helper()
	if got := recvAll(h.peer); len(got) != 0 {
		t.Errorf("answers to a replayed message ID: %q", got)
	}
	if n := p.count(); n != starts {
		t.Errorf("handler started %d times, want %d", n, starts)
	}
	if n := h.d.Counters.Dropped(DropReplay); n != drops {
		t.Errorf("replay drops %d, want %d", n, drops)
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
		checkReplays(t, h, qm, 1, 2)
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
		checkReplays(t, h, inf, 1, 1)
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

// TestInformationalReplayAfterThousand: an informational replayed after
// 1,000 more exchanges on its SA (far past the recent entries that keep
// answers) is still refused, identical copy or not; the handler saw each
// message ID once.
func TestInformationalReplayAfterThousand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inf := &phase2Handler{}
		h, c := establishedWith(t, isakmp.ExchangeInformational, inf)
		first := message(c.I, c.R, isakmp.ExchangeInformational, 0x1c1c1c1c, []byte("initial-contact"))
		h.send(h.peer, 500, first)
		for i := range 1000 {
			h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0x10000+uint32(i), []byte("r-u-there")))
		}
		recvAll(h.peer)
		if n := inf.count(); n != 1001 {
			t.Fatalf("handler ran %d times, want 1001", n)
		}
		h.send(h.peer, 500, first)
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0x1c1c1c1c, []byte("delete")))
		if got := recvAll(h.peer); len(got) != 0 {
			t.Errorf("answers to a replayed ID: %q", got)
		}
		if n := inf.count(); n != 1001 {
			t.Errorf("the replay reached the handler: %d runs", n)
		}
		if n := h.d.Counters.Dropped(DropReplay); n != 2 {
			t.Errorf("replay drops %d, want 2", n)
		}
	})
}

// TestIDHistoryFullEndsSA: an ISAKMP SA whose message-ID memory is full
// takes the exchange that filled it, then starts none (its ID could not be
// remembered) and is deleted as expired, counted.
func TestIDHistoryFullEndsSA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inf := &phase2Handler{}
		h, c := establishedWith(t, isakmp.ExchangeInformational, inf)
		h.d.call(func() {
			sa := h.d.sas[c]
			for i := range MaxMessageIDs - 1 {
				sa.history.add(finishedID{id: uint32(i + 1)})
			}
		})
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0xf0000001, []byte("last")))
		h.send(h.peer, 500, message(c.I, c.R, isakmp.ExchangeInformational, 0xf0000002, []byte("one too many")))
		if n := inf.count(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		var alive bool
		h.d.call(func() { alive = h.d.sas[c] != nil })
		if alive || h.d.Counters.HistoryFull.Load() != 1 || h.d.Counters.SARemoved[RemoveExpired].Load() != 1 {
			t.Errorf("SA alive %v, full %d, expired %d", alive, h.d.Counters.HistoryFull.Load(), h.d.Counters.SARemoved[RemoveExpired].Load())
		}
	})
}
