package daemon

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
)

var floodAddr = netip.MustParseAddr("198.51.100.66")

// source binds a socket at addr:500 on the harness's network.
func (h *harness) source(addr netip.Addr) PacketConn {
	h.t.Helper()
	c, err := h.net.ListenUDP(netip.AddrPortFrom(addr, 500))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// notices returns the summary lines of refusals (refusals.go) in the log.
func (h *harness) notices() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(h.log.String(), "\n") {
		if !strings.Contains(l, "datagrams refused") {
			continue
		}
		i := strings.Index(l, "{")
		var m map[string]any
		if i < 0 || json.Unmarshal([]byte(l[i:]), &m) != nil {
			h.t.Fatalf("summary line without fields: %q", l)
		}
		m["line"] = l
		out = append(out, m)
	}
	return out
}

// floodFirst starts a daemon with s whose ex exchanges echo, and sends
// it n first messages with body from floodAddr's port 500 (flood).
func floodFirst(t *testing.T, s Settings, ex isakmp.ExchangeType, n int, body string) (h *harness, eh *echoHandler, flood PacketConn) {
	t.Helper()
	eh = &echoHandler{}
	h = newHarness(t, s, func(d *Daemon) { d.Register(ex, eh) })
	flood = h.source(floodAddr)
	for i := range n {
		h.send(flood, 500, message(cookie(uint64(1000+i)), [8]byte{}, ex, 0, []byte(body)))
	}
	return h, eh, flood
}

// TestSourceShareUnderLoad: one address floods first messages. Below the
// load mark it is not limited; from it on it holds its share and no more,
// while every other address still starts SAs; the refusals are counted
// and summed up in one notice line per interval, never one per datagram.
func TestSourceShareUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.HalfOpenMax, s.LoadHalfOpen, s.PerSourceHalfOpen, s.RateBurst = 100, 20, 20, 1000
		h, eh, _ := floodFirst(t, s, isakmp.ExchangeMain, 200, "x")
		h.onLoop(func() {
			if ho, _ := h.d.admit.held(floodAddr); ho != 20 || h.d.halfOpen != 20 {
				t.Errorf("the flooding address holds %d, the table %d; want 20, 20", ho, h.d.halfOpen)
			}
		})
		if n := h.d.Counters.Dropped(DropSourceShare); n != 180 {
			t.Errorf("source-share drops %d, want 180", n)
		}
		for i := range 30 {
			src := h.source(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i)}))
			h.send(src, 500, message(cookie(uint64(5000+i)), [8]byte{}, isakmp.ExchangeMain, 0, []byte("y")))
			if got := recvAll(src); len(got) != 1 {
				t.Fatalf("address %d of 30 under load: %d answers, want 1", i+1, len(got))
			}
		}
		if starts, _, _ := eh.get(); starts != 50 {
			t.Errorf("started %d, want 20 + 30", starts)
		}
		if len(h.notices()) != 0 {
			t.Error("a summary before the interval ended")
		}
		time.Sleep(refusalInterval + time.Second)
		synctest.Wait()
		ns := h.notices()
		if len(ns) != 1 {
			t.Fatalf("%d summary lines after one interval, want 1\n%s", len(ns), h.log.String())
		}
		n := ns[0]
		if !strings.Contains(n["line"].(string), "NOTICE") && !strings.Contains(n["line"].(string), "notice") || n["source-share"] != float64(180) || n["under-load"] != true {
			t.Errorf("summary %v", n)
		}
		if top, _ := n["top-sources"].([]any); len(top) != 1 || top[0] != "198.51.100.66=180" {
			t.Errorf("top sources %v", n["top-sources"])
		}
		// A quiet interval adds nothing.
		time.Sleep(2 * refusalInterval)
		synctest.Wait()
		if len(h.notices()) != 1 {
			t.Errorf("summaries without refusals: %d lines", len(h.notices()))
		}
	})
}

// TestAggressiveBadKECharged: an address floods Aggressive Mode first
// messages whose KE our Diffie-Hellman refuses. Each failure stays
// charged to the address; once the charges put the table under load, its
// AM1s are deferred before any work, while another address's AM1 is
// answered. The charges end with the half-open lifetime.
func TestAggressiveBadKECharged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSettings()
		s.HalfOpenMax, s.LoadHalfOpen, s.PerSourceHalfOpen, s.RateBurst = 100, 5, 50, 1000
		h, _, flood := floodFirst(t, s, isakmp.ExchangeAggressive, 100, "badke")
		if n := h.d.Counters.WorkDone.Load(); n != 5 {
			t.Errorf("%d Diffie-Hellman jobs for the flood, want 5 (the load mark)", n)
		}
		if n := h.d.Counters.Dropped(DropDeferred); n != 95 {
			t.Errorf("aggressive-deferred %d, want 95", n)
		}
		h.onLoop(func() {
			if ho, ch := h.d.admit.held(floodAddr); ho != 0 || ch != 5 || h.d.halfOpen != 0 {
				t.Errorf("flood holds %d half-open and %d charges, table %d; want 0, 5, 0", ho, ch, h.d.halfOpen)
			}
		})
		other := h.source(netip.MustParseAddr("203.0.113.9"))
		h.send(other, 500, message(cookie(9000), [8]byte{}, isakmp.ExchangeAggressive, 0, []byte("hello")))
		if got := recvAll(other); len(got) != 1 {
			t.Fatalf("another address under load: %d answers, want 1", len(got))
		}
		// It now holds one half-open SA: its next AM1 waits.
		h.send(other, 500, message(cookie(9001), [8]byte{}, isakmp.ExchangeAggressive, 0, []byte("hello")))
		if got := recvAll(other); len(got) != 0 {
			t.Errorf("second AM1 of an address holding one under load: %d answers, want 0", len(got))
		}
		time.Sleep(s.HalfOpenLifetime + time.Second)
		synctest.Wait()
		h.onLoop(func() {
			h.d.admit.expire(h.d.clock.Now())
			if _, ch := h.d.admit.held(floodAddr); ch != 0 || h.d.admit.charged != 0 {
				t.Errorf("charges after the half-open lifetime: %d (%d in all)", ch, h.d.admit.charged)
			}
		})
		h.send(flood, 500, message(cookie(2000), [8]byte{}, isakmp.ExchangeAggressive, 0, []byte("hello")))
		if got := recvAll(flood); len(got) != 1 {
			t.Errorf("the flooding address after its charges ended: %d answers, want 1", len(got))
		}
	})
}

// TestReadersRepeatRefusals: after the loop refused a source, the readers
// refuse its first messages (only Aggressive Mode ones after a deferral)
// for at most blockFor, or until one of its half-open SAs goes; nothing
// else of it, and nothing of other sources.
func TestReadersRepeatRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{})
		other := netip.MustParseAddr("203.0.113.9")
		pkt := func(src netip.Addr, ex isakmp.ExchangeType, r [8]byte, id uint32) *Packet {
			return &Packet{Header: isakmp.Header{InitiatorCookie: cookie(1), ResponderCookie: r, Exchange: ex, MessageID: id},
				Remote: netip.AddrPortFrom(src, 500)}
		}
		mm1, am1 := pkt(floodAddr, isakmp.ExchangeMain, [8]byte{}, 0), pkt(floodAddr, isakmp.ExchangeAggressive, [8]byte{}, 0)
		d.refuse(DropSourceShare, floodAddr, Datagram{})
		for _, c := range []struct {
			p    *Packet
			want bool
		}{
			{mm1, true}, {am1, true},
			{pkt(other, isakmp.ExchangeMain, [8]byte{}, 0), false},
			{pkt(floodAddr, isakmp.ExchangeMain, cookie(2), 0), false},
			{pkt(floodAddr, isakmp.ExchangeQuickMode, cookie(2), 7), false},
		} {
			if got := d.blockedFirst(c.p); got != c.want {
				t.Errorf("%s from %s, cookie R %x: blocked %v, want %v", c.p.Header.Exchange, c.p.Remote, c.p.Header.ResponderCookie, got, c.want)
			}
		}
		if n := d.Counters.Dropped(DropSourceShare); n != 3 {
			t.Errorf("source-share drops %d, want 3 (1 by the loop, 2 by the readers)", n)
		}
		time.Sleep(blockFor)
		if d.blockedFirst(mm1) {
			t.Error("still blocked after blockFor")
		}
		d.refuse(DropDeferred, floodAddr, Datagram{})
		if d.blockedFirst(mm1) || !d.blockedFirst(am1) {
			t.Error("after a deferral: want Main Mode through, Aggressive Mode blocked")
		}
		d.unblock(floodAddr)
		if d.blockedFirst(am1) {
			t.Error("blocked after unblock")
		}
		d.foldAllHits()
		if n := d.refused.bySrc[floodAddr]; n != 5 {
			t.Errorf("refusals of the source for the summary: %d, want 5", n)
		}
	})
}
