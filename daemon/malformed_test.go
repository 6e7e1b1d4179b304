package daemon

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/isakmp"
)

// captures returns the real packets of isakmp/testdata/captures (strongSwan
// and ike-scan), or skips when they are not there.
func captures(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("../isakmp/testdata/captures/*.bin")
	if len(files) == 0 {
		t.Skip("no captures in isakmp/testdata/captures")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// unlimitedEcho starts a harness without rate or half-open limits whose
// echoHandler answers the first messages of the exchanges xs.
func unlimitedEcho(t *testing.T, xs ...isakmp.ExchangeType) (*harness, *echoHandler) {
	t.Helper()
	eh := &echoHandler{}
	s := testSettings()
	s.RateBurst, s.HalfOpenMax = 1<<20, 1<<20
	h := newHarness(t, s, func(d *Daemon) {
		for _, x := range xs {
			d.Register(x, eh)
		}
	})
	return h, eh
}

// TestMalformedDatagrams feeds random bytes, every strict prefix of real
// packets, and header corruptions, on both ports. Nothing may panic or stop
// the loop, every datagram must end in exactly one counter, and the daemon
// must still answer a good first message afterwards.
func TestMalformedDatagrams(t *testing.T) {
	caps := captures(t)
	synctest.Test(t, func(t *testing.T) {
		h, _ := unlimitedEcho(t, isakmp.ExchangeMain)
		sent := uint64(0)
		send := func(b []byte) {
			h.send(h.peer, 500, b)
			h.send(h.natt, 4500, frameNATT(b))
			sent += 2
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 500 {
			b := make([]byte, rng.IntN(120))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			send(b)
		}
		for _, p := range caps {
			for n := 0; n < len(p); n += 1 + n/8 {
				send(p[:n])
			}
		}
		// Header corruptions of a real packet (RFC 2408, 3.1 fields).
		var base []byte
		for _, p := range caps {
			base = p
			break
		}
		corrupt := func(i int, v byte) []byte {
			b := append([]byte(nil), base...)
			b[i] = v
			return b
		}
		send(corrupt(17, 0x20))                       // major version 2 (IKEv2)
		send(corrupt(17, 0x11))                       // minor version 1
		send(corrupt(18, 34))                         // IKE_SA_INIT of IKEv2
		send(corrupt(19, 0x80))                       // undefined flag
		send(append(append([]byte(nil), base...), 0)) // a trailing byte
		synctest.Wait()

		c := &h.d.Counters
		accounted := c.DroppedTotal() + c.Accepted.Load() + c.Keepalives.Load() + c.CachedReplies.Load()
		if c.Datagrams.Load() != sent || accounted != sent {
			t.Errorf("sent %d, read %d, accounted %d", sent, c.Datagrams.Load(), accounted)
		}
		for _, r := range []Drop{DropShort, DropVersion, DropFlags, DropLength, DropExchange} {
			if c.Dropped(r) == 0 {
				t.Errorf("no %s drop counted", r)
			}
		}
		if c.Dropped(DropPanic) != 0 {
			t.Errorf("%d panics", c.Dropped(DropPanic))
		}
		recvAll(h.peer)
		recvAll(h.natt)
		h.send(h.peer, 500, message(cookie(0xabcdef), [8]byte{}, isakmp.ExchangeMain, 0, []byte("alive")))
		if got := recvAll(h.peer); len(got) != 1 {
			t.Errorf("no answer after the junk: %d", len(got))
		}
	})
}

// TestRealFirstMessages: every captured packet, whole, ends up in one
// place: a first message of Main or Aggressive Mode starts an exchange, a
// message of an SA this daemon never saw is no-sa.
func TestRealFirstMessages(t *testing.T) {
	caps := captures(t)
	synctest.Test(t, func(t *testing.T) {
		h, eh := unlimitedEcho(t, isakmp.ExchangeMain, isakmp.ExchangeAggressive)
		firsts := 0
		for name, p := range caps {
			hd, err := isakmp.ParseHeader(p)
			if err != nil {
				t.Errorf("%s: capture does not parse: %v", name, err)
				continue
			}
			if hd.ResponderCookie == ([8]byte{}) && hd.MessageID == 0 {
				firsts++
			}
			// Each from its own source, so cookies of different runs never meet.
			src, err := h.net.ListenUDP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(firsts)}), 500))
			if err != nil {
				src = h.peer
			} else {
				defer src.Close()
			}
			h.send(src, 500, p)
		}
		if starts, _, _ := eh.get(); starts != firsts {
			t.Errorf("%d exchanges started, %d first messages among the captures", starts, firsts)
		}
		if firsts == 0 {
			t.Error("no first message among the captures")
		}
		c := &h.d.Counters
		if got := c.Accepted.Load() + c.DroppedTotal() + c.CachedReplies.Load(); got != uint64(len(caps)) {
			t.Errorf("%d captures, %d accounted", len(caps), got)
		}
	})
}

func TestUnframeNATT(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want natTFrame
		rest int
	}{
		{[]byte{0xff}, frameKeepalive, 0},
		{[]byte{0}, frameShort, 0},
		{[]byte{0, 0, 0}, frameShort, 0},
		{[]byte{0, 0, 0, 0}, frameIKE, 0},
		{[]byte{0, 0, 0, 0, 1, 2}, frameIKE, 2},
		{[]byte{0, 0, 0, 1, 1, 2}, frameESP, 0},
		{[]byte{0xff, 0}, frameShort, 0},
	} {
		rest, f := unframeNATT(tc.in)
		if f != tc.want || len(rest) != tc.rest {
			t.Errorf("%x: %s with %d bytes, want %s with %d", tc.in, f, len(rest), tc.want, tc.rest)
		}
	}
	if got := frameNATT([]byte{1, 2}); string(got) != "\x00\x00\x00\x00\x01\x02" {
		t.Errorf("frameNATT: %x", got)
	}
}

// FuzzInspect checks that no datagram on either port panics the cheap checks.
func FuzzInspect(f *testing.F) {
	files, _ := filepath.Glob("../isakmp/testdata/captures/*.bin")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, false)
			f.Add(frameNATT(b), true)
		}
	}
	f.Add([]byte{0xff}, true)
	d := New(Options{})
	f.Fuzz(func(t *testing.T, b []byte, natt bool) {
		pkt, ok := d.inspect(Datagram{Data: b}, natt)
		if d.Counters.Dropped(DropPanic) != 0 {
			t.Fatal("inspect panicked")
		}
		if ok {
			if _, err := isakmp.ParseHeader(pkt.Data); err != nil {
				t.Fatalf("passed a datagram whose header does not parse: %v", err)
			}
		}
	})
}
