package daemon

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// fragmentsOf cuts msg into fragment messages of at most size bytes with
// fragment ID id, as a peer sends them.
func fragmentsOf(t *testing.T, msg []byte, id uint16, size int) [][]byte {
	t.Helper()
	h, err := isakmp.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	h.MessageID = 0
	fs, err := isakmp.FragmentMessage(h, msg, id, size)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// fragmentMsg encodes one fragment message by hand, so that it may break
// the rules FragmentMessage keeps.
func fragmentMsg(t *testing.T, i, r [8]byte, f *isakmp.Fragment, more ...isakmp.Payload) []byte {
	t.Helper()
	m := &isakmp.Message{Header: isakmp.Header{InitiatorCookie: i, ResponderCookie: r, Exchange: isakmp.ExchangeMain},
		Payloads: append([]isakmp.Payload{f}, more...)}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReassembly: a first message sent in fragments, out of order,
// starts its exchange once whole, and the same fragments again are a
// retransmission answered from the cache; every kind of bad fragment is
// dropped and counted under its own reason.
func TestReassembly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, eh := unlimitedEcho(t, isakmp.ExchangeMain)
		c := &h.d.Counters
		whole := message(cookie(1), [8]byte{}, isakmp.ExchangeMain, 0, bytes.Repeat([]byte("x"), 3000))
		fs := fragmentsOf(t, whole, 1, 500)
		for k := len(fs) - 1; k >= 0; k-- {
			h.send(h.peer, 500, fs[k])
		}
		if starts, _, _ := eh.get(); starts != 1 || c.Reassembled.Load() != 1 || c.FragmentsReceived.Load() != uint64(len(fs)) {
			t.Fatalf("starts %d, reassembled %d, fragments %d of %d", starts, c.Reassembled.Load(), c.FragmentsReceived.Load(), len(fs))
		}
		if got := recvAll(h.peer); len(got) != 1 {
			t.Fatalf("%d answers", len(got))
		}
		for _, f := range fs {
			h.send(h.peer, 500, f)
		}
		if c.CachedReplies.Load() != 1 || len(recvAll(h.peer)) != 1 {
			t.Errorf("retransmitted fragments: cached replies %d", c.CachedReplies.Load())
		}

		// The NAT-T port: the same, behind the non-ESP marker.
		whole2 := message(cookie(2), [8]byte{}, isakmp.ExchangeMain, 0, bytes.Repeat([]byte("y"), 2000))
		for _, f := range fragmentsOf(t, whole2, 9, 700) {
			h.send(h.natt, 4500, frameNATT(f))
		}
		if starts, _, _ := eh.get(); starts != 2 {
			t.Errorf("NAT-T port: %d exchanges", starts)
		}

		bad := []struct {
			why  Drop
			data []byte
		}{
			{DropFragment, fragmentMsg(t, cookie(3), [8]byte{}, &isakmp.Fragment{ID: 1, Number: 0, Data: []byte("a")})},
			{DropFragment, fragmentMsg(t, cookie(3), [8]byte{}, &isakmp.Fragment{ID: 1, Number: 65, Data: []byte("a")})},
			{DropFragment, fragmentMsg(t, cookie(3), [8]byte{}, &isakmp.Fragment{ID: 1, Number: 1, Data: []byte("a")},
				&isakmp.VendorID{Data: []byte("more")})},
			{DropFragment, fragmentMsg(t, cookie(3), [8]byte{}, &isakmp.Fragment{ID: 1, Number: 1, Flags: 0x80, Data: []byte("a")})},
			{DropNoSA, fragmentMsg(t, cookie(3), cookie(4), &isakmp.Fragment{ID: 1, Number: 1, Flags: isakmp.FragmentLast, Data: []byte("a")})},
		}
		for k, b := range bad {
			before := c.Dropped(b.why)
			h.send(h.peer, 500, b.data)
			if c.Dropped(b.why) != before+1 {
				t.Errorf("bad fragment %d: %s not counted", k, b.why)
			}
		}

		// A duplicate, a second last fragment, one beyond the last.
		f5 := func(n, flags uint8) []byte {
			return fragmentMsg(t, cookie(5), [8]byte{}, &isakmp.Fragment{ID: 1, Number: n, Flags: flags, Data: []byte("part")})
		}
		h.send(h.peer, 500, f5(3, isakmp.FragmentLast))
		h.send(h.peer, 500, f5(3, isakmp.FragmentLast))
		if c.Dropped(DropFragmentDuplicate) != 1 {
			t.Errorf("duplicate: %d", c.Dropped(DropFragmentDuplicate))
		}
		before := c.Dropped(DropFragment)
		h.send(h.peer, 500, f5(2, isakmp.FragmentLast))
		h.send(h.peer, 500, f5(4, 0))
		if c.Dropped(DropFragment) != before+2 {
			t.Errorf("inconsistent last: %d", c.Dropped(DropFragment)-before)
		}

		// Joined messages that are not what their fragments claim: other
		// cookies, a fragment inside, a header that does not parse.
		for k, inner := range [][]byte{
			message(cookie(7), [8]byte{}, isakmp.ExchangeMain, 0, []byte("other cookies")),
			fragmentMsg(t, cookie(6), [8]byte{}, &isakmp.Fragment{ID: 2, Number: 1, Flags: isakmp.FragmentLast, Data: []byte("x")}),
			bytes.Repeat([]byte{0xee}, 60),
		} {
			before := c.Dropped(DropReassembled)
			f := fragmentMsg(t, cookie(6), [8]byte{}, &isakmp.Fragment{ID: uint16(10 + k), Number: 1, Flags: isakmp.FragmentLast, Data: inner})
			h.send(h.peer, 500, f)
			if c.Dropped(DropReassembled) != before+1 {
				t.Errorf("joined message %d not refused", k)
			}
		}

		// Over the size of one message: the fragment that crosses it and
		// those held are dropped.
		big := message(cookie(8), [8]byte{}, isakmp.ExchangeMain, 0, bytes.Repeat([]byte("z"), ReassemblyMaxBytes+2000))
		fs = fragmentsOf(t, big, 3, 1200)
		for _, f := range fs[:len(fs)-1] {
			h.send(h.peer, 500, f)
		}
		held := 0
		h.onLoop(func() {
			for k, b := range h.d.reasm.bufs {
				if k.cookies.I == cookie(8) {
					held = len(b.frags)
				}
			}
		})
		if n := c.Dropped(DropFragmentTooLarge); n == 0 || held != 0 {
			t.Errorf("too large: %d dropped, %d held", n, held)
		}
		if c.Dropped(DropPanic) != 0 {
			t.Errorf("%d panics", c.Dropped(DropPanic))
		}
	})
}

// TestReassemblyBounds: fragments that never complete are held within
// the per-source and the daemon's memory, the rest dropped and counted,
// and all of it is let go (and counted) after ReassemblyTimeout.
func TestReassemblyBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := unlimitedEcho(t, isakmp.ExchangeMain)
		c := &h.d.Counters
		// One fragment (the first of several) per cookie pair.
		first := func(i uint64) []byte {
			return fragmentMsg(t, cookie(i), [8]byte{}, &isakmp.Fragment{ID: 1, Number: 1, Data: bytes.Repeat([]byte{byte(i)}, 1200)})
		}
		src := h.source(floodAddr)
		for i := range uint64(100) {
			h.send(src, 500, first(1000+i))
		}
		perSource := 0
		h.onLoop(func() { perSource = h.d.reasm.bySource[floodAddr] })
		if perSource > ReassemblyPerSource || c.Dropped(DropFragmentMemory) == 0 {
			t.Errorf("one source holds %d bytes (cap %d), %d refused", perSource, ReassemblyPerSource, c.Dropped(DropFragmentMemory))
		}

		// Many sources: the daemon's cap.
		sources := ReassemblyTotal/ReassemblyPerSource + 8
		for s := range sources {
			conn := h.source(netip.AddrFrom4([4]byte{203, 0, 113, byte(s + 1)}))
			for i := range uint64(ReassemblyPerSource / 1300) {
				if err := conn.WriteDatagram(Datagram{Data: first((uint64(s)+1)<<16 | i), Remote: netip.AddrPortFrom(ourAddr, 500)}); err != nil {
					t.Fatal(err)
				}
			}
			synctest.Wait()
		}
		total, bufs := 0, 0
		h.onLoop(func() { total, bufs = h.d.reasm.total, len(h.d.reasm.bufs) })
		if total > ReassemblyTotal || total < ReassemblyTotal-2*ReassemblyPerSource {
			t.Errorf("%d bytes held, cap %d", total, ReassemblyTotal)
		}
		memory := c.Dropped(DropFragmentMemory)
		if _, err := h.d.TableView(); err != nil {
			t.Error(err)
		}

		time.Sleep(ReassemblyTimeout + time.Second)
		synctest.Wait()
		h.onLoop(func() { total = h.d.reasm.total + len(h.d.reasm.bufs) + len(h.d.reasm.bySource) })
		if total != 0 || c.Dropped(DropFragmentStale) != uint64(bufs) {
			t.Errorf("after the timeout: %d left, %d stale, %d were held", total, c.Dropped(DropFragmentStale), bufs)
		}
		if held := c.FragmentsReceived.Load(); held+memory != c.Datagrams.Load() {
			t.Errorf("%d datagrams, %d held, %d refused for memory", c.Datagrams.Load(), held, memory)
		}
		// The memory is free again.
		h.send(src, 500, first(1))
		if c.Dropped(DropFragmentMemory) != memory {
			t.Error("a fragment refused after the timeout freed the memory")
		}
	})
}

// TestSendFragments: an SA that uses fragments sends a message over the
// path limit as fragments that fit it, with message ID 0, its phase 1
// exchange type and no E flag (as strongSwan's), which join back into
// the message; on the NAT-T port the marker counts against the limit; a
// retransmission sends them again under a new fragment ID; an SA that
// does not use fragments sends the message whole.
func TestSendFragments(t *testing.T) {
	for _, tc := range []struct {
		use   FragmentUse
		split bool
	}{
		{FragmentUse{Mode: policymgr.FragmentForce, Exchange: isakmp.ExchangeAggressive}, true},
		{FragmentUse{Mode: policymgr.FragmentYes, Peer: true, Exchange: isakmp.ExchangeMain}, true},
		{FragmentUse{Mode: policymgr.FragmentYes}, false},
		{FragmentUse{Mode: policymgr.FragmentNo, Peer: true}, false},
	} {
		synctest.Test(t, func(t *testing.T) {
			h, _ := unlimitedEcho(t)
			for _, port := range []uint16{500, 4500} {
				sa := &SA{Cookies: Cookies{cookie(1), cookie(2)}, Fragments: tc.use,
					Local: netip.AddrPortFrom(ourAddr, port), Remote: netip.AddrPortFrom(peerAddr, port)}
				msg := message(cookie(1), cookie(2), isakmp.ExchangeQuickMode, 77, bytes.Repeat([]byte("q"), 3000))
				peer, limit := h.peer, FragmentPathSize-28
				if port == 4500 {
					peer, limit = h.natt, FragmentPathSize-28-4
				}
				var ids []uint16
				for range 2 {
					h.onLoop(func() { h.d.transmit(sa, msg) })
					got := recvAll(peer)
					if !tc.split {
						if len(got) != 1 || len(got[0]) < len(msg) {
							t.Fatalf("%+v: %d datagrams", tc.use, len(got))
						}
						continue
					}
					var frags []*isakmp.Fragment
					for _, d := range got {
						if port == 4500 {
							d = d[4:]
						}
						if len(d) > limit {
							t.Errorf("port %d: a fragment of %d bytes, limit %d", port, len(d), limit)
						}
						m, err := isakmp.Decode(d)
						if err != nil {
							t.Fatal(err)
						}
						if m.Header.MessageID != 0 || m.Header.Exchange != tc.use.Exchange || m.Header.Flags&isakmp.FlagEncryption != 0 {
							t.Errorf("fragment header %+v", m.Header)
						}
						frags = append(frags, m.Payloads[0].(*isakmp.Fragment))
					}
					joined, err := isakmp.Reassemble(frags)
					if err != nil || !bytes.Equal(joined, msg) || len(frags) != 3 {
						t.Fatalf("port %d: %d fragments join into %d bytes (%v)", port, len(frags), len(joined), err)
					}
					ids = append(ids, frags[0].ID)
				}
				if tc.split && ids[0] == ids[1] {
					t.Errorf("the retransmission reused fragment ID %d", ids[0])
				}
			}
		})
	}
}
