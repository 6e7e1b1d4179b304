package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// recordingConn is a socket that sends in batches and records how each
// datagram left: "name" alone, "[a b]" a batch. A datagram whose data is
// "fail" fails.
type recordingConn struct {
	PacketConn
	calls *[]string
}

func (c recordingConn) WriteDatagram(d Datagram) error {
	if string(d.Data) == "fail" {
		return errors.New("no route")
	}
	*c.calls = append(*c.calls, string(d.Data))
	return nil
}

func (c recordingConn) WriteDatagrams(ds []Datagram) (int, error) {
	var names []string
	defer func() { *c.calls = append(*c.calls, "["+strings.Join(names, " ")+"]") }()
	for i, d := range ds {
		if string(d.Data) == "fail" {
			return i, errors.New("no route")
		}
		names = append(names, string(d.Data))
	}
	return len(ds), nil
}

// TestOutbox: the loop's datagrams leave at once when no event waits, and
// in one batch per run of the same socket when events wait (outbox.go);
// what waits leaves before the next one sent at once; a full outbox
// leaves; a datagram that fails is counted and logged, and the rest of
// its batch still leaves.
func TestOutbox(t *testing.T) {
	buf := &daemontest.LogBuffer{}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "debug"}, buf)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{log: lg, events: make(chan event, 1)}
	var calls []string
	a, b := recordingConn{calls: &calls}, recordingConn{calls: &calls}
	b.PacketConn = &struct{ PacketConn }{} // a different socket
	dg := func(s string) Datagram {
		return Datagram{Data: []byte(s), Remote: netip.MustParseAddrPort("192.0.2.9:500")}
	}
	send := func(pc PacketConn, names ...string) {
		for _, n := range names {
			d.send(pc, dg(n))
		}
	}
	check := func(step string, want ...string) {
		t.Helper()
		if !slices.Equal(calls, want) {
			t.Fatalf("%s: sent %q, want %q", step, calls, want)
		}
		calls = nil
	}

	send(a, "1")
	check("idle", "1")

	d.events <- event{} // the loop is busy
	send(a, "2", "3")
	send(b, "4")
	send(a, "5")
	check("busy")
	d.flushOutbox()
	check("flushed", "[2 3]", "[4]", "[5]")

	send(a, "6", "7")
	<-d.events // the queue empties
	send(a, "8")
	check("after the queue emptied", "[6 7]", "8")

	d.events <- event{}
	names := make([]string, outboxMax+1)
	for i := range names {
		names[i] = fmt.Sprint("m", i)
	}
	send(a, names...)
	check("outbox full", "["+strings.Join(names[:outboxMax], " ")+"]")
	d.flushOutbox()
	check("the last one", "["+names[outboxMax]+"]")

	send(a, "9", "fail", "10")
	d.flushOutbox()
	check("a failure", "[9]", "[10]")
	<-d.events
	if ok := d.send(a, dg("fail")); ok {
		t.Error("a failed send at once reported as sent")
	}
	check("a failure at once")
	if n, e := d.Counters.Sent.Load(), d.Counters.SendErrors.Load(); n != 1+4+3+outboxMax+1+2 || e != 2 {
		t.Errorf("counters: sent %d, send errors %d; want %d, 2", n, e, 1+4+3+outboxMax+1+2)
	}
	if got := strings.Count(buf.String(), "send failed"); got != 2 {
		t.Errorf("%d lines 'send failed', want 2:\n%s", got, buf)
	}
	if len(d.outbox) != 0 || slices.ContainsFunc(d.outbox[:cap(d.outbox)], func(o outgoing) bool { return o.d.Data != nil }) {
		t.Error("the outbox keeps datagrams it sent")
	}
}

// TestOutboxUnderLoad: many first messages at once, on a network whose
// sockets send in batches. Each gets its one answer and nothing stays in
// the outbox once the loop is idle, however the loop grouped them.
func TestOutboxUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := startHarnessNet(t, &daemontest.Net{Batching: true}, func(d *Daemon) { d.Register(isakmp.ExchangeMain, eh) })
		const n = 4 * outboxMax
		for i := range n {
			m := message(cookie(uint64(i+1)), [8]byte{}, isakmp.ExchangeMain, 0, []byte(fmt.Sprint("sa-", i)))
			if err := h.peer.WriteDatagram(Datagram{Data: m, Remote: netip.AddrPortFrom(ourAddr, 500)}); err != nil {
				t.Fatal(err)
			}
		}
		got := recvAll(h.peer)
		seen := map[uint64]bool{}
		for _, m := range got {
			c := cookieOf(m)
			if seen[c] || !strings.HasSuffix(string(m), fmt.Sprint("re:sa-", c-1)) {
				t.Fatalf("answer %q: twice or wrong", m)
			}
			seen[c] = true
		}
		if len(seen) != n {
			t.Fatalf("%d answers, want %d", len(seen), n)
		}
		batches := map[int]int{}
		for _, s := range h.net.Sent() {
			if s.Batch > 0 {
				batches[s.Batch]++
			}
		}
		t.Logf("%d answers, %d of them in %d batches", n, func() (k int) {
			for _, v := range batches {
				k += v
			}
			return
		}(), len(batches))
	})
}

func cookieOf(m []byte) uint64 {
	var c uint64
	for _, b := range m[:8] {
		c = c<<8 | uint64(b)
	}
	return c
}

// TestOutboxCall: what a call to the loop sends has left when the call
// returns, though events wait behind it: Stop closes the sockets right
// after the call that sends its Deletes.
func TestOutboxCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startHarnessNet(t, &daemontest.Net{Batching: true}, nil)
		release := make(chan struct{})
		h.onLoop(func() {
			// An event waits, and runs only once the test has looked.
			if !h.d.tryPost(event{f: func() { <-release }}) {
				t.Fatal("queue full")
			}
			pc := h.d.pickConn(netip.AddrPortFrom(ourAddr, 500), netip.AddrPortFrom(peerAddr, 500)).pc
			h.d.send(pc, Datagram{Data: []byte("delete"), Local: netip.AddrPortFrom(ourAddr, 500), Remote: netip.AddrPortFrom(peerAddr, 500)})
			if len(h.d.outbox) != 1 {
				t.Errorf("outbox holds %d datagrams, want 1: the loop is busy", len(h.d.outbox))
			}
		})
		got := daemontest.Drain(h.peer)
		close(release)
		if len(got) != 1 || string(got[0].Data) != "delete" {
			t.Fatalf("when the call returned the peer had %d datagrams, want the one it sent", len(got))
		}
	})
}
