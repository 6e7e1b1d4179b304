package daemon_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/daemon/udp"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// The flooding address and a legitimate peer's, beside stacktest's hosts
// (RFC 5737 documentation addresses); B's connection covers the /24.
const (
	floodHost = "192.0.2.66"
	otherHost = "192.0.2.3"
	summary   = "datagrams refused by admission or queue limits"
)

var hostB = netip.AddrPortFrom(netip.MustParseAddr(stacktest.HostB), 500)

// sentBy returns the first datagram host sent to B's IKE port whose header
// ok accepts.
func sentBy(t *testing.T, nw *stacktest.Net, host string, ok func(isakmp.Header) bool) []byte {
	t.Helper()
	for _, s := range nw.Sent() {
		if s.From.Addr().String() != host || s.To != hostB {
			continue
		}
		if h, err := isakmp.ParseHeader(s.Data); err == nil && ok(h) {
			return s.Data
		}
	}
	t.Fatalf("no such datagram from %s", host)
	return nil
}

// flooder is a socket at floodHost:500 that sends B copies of a message
// with cookies of its own.
type flooder struct {
	t    *testing.T
	conn udp.PacketConn
	n    uint64
}

func newFlooder(t *testing.T, nw *stacktest.Net) *flooder {
	c, err := nw.ListenUDP(netip.AddrPortFrom(netip.MustParseAddr(floodHost), 500))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &flooder{t: t, conn: c}
}

// send sends msg with its initiator cookie (and responder cookie r, when
// not zero) replaced; every 100 datagrams the bubble settles, so that B
// reads them rather than the network losing them, and what B answered is
// returned.
func (f *flooder) send(msg []byte, r [8]byte) []udp.Datagram {
	f.n++
	m := append([]byte(nil), msg...)
	binary.BigEndian.PutUint64(m[0:8], 0x6600000000000000|f.n)
	if r != ([8]byte{}) {
		copy(m[8:16], r[:])
	}
	if err := f.conn.WriteDatagram(udp.Datagram{Data: m, Remote: hostB}); err != nil {
		f.t.Fatal(err)
	}
	if f.n%100 == 0 {
		synctest.Wait()
		return daemontest.Drain(f.conn)
	}
	return nil
}

func isFirst(ex isakmp.ExchangeType) func(isakmp.Header) bool {
	return func(h isakmp.Header) bool { return h.Exchange == ex && h.ResponderCookie == [8]byte{} }
}

// TestHalfOpenFloodOneAddress: with the default settings, 20,000 Main
// Mode first messages from one address (copies of a real MM1, each with
// its own cookie) hold the address's share of the half-open table and no
// more, while a peer at another address, starting in the middle of the
// flood, establishes phase 1 and Quick Mode; nothing waits for pool
// space; the refusals are in one notice line per interval.
func TestHalfOpenFloodOneAddress(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: "192.0.2.0/24", LogLevel: "info"},
			stacktest.Options{Net: nw})
		a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, Initiate: "start",
			LogLevel: "info"}, stacktest.Options{Net: nw})
		b.WaitSAs(t, 2, 30*time.Second)
		mm1 := sentBy(t, nw, stacktest.HostA, isFirst(isakmp.ExchangeMain))
		share := daemon.DefaultSettings().PerSourceHalfOpen

		f := newFlooder(t, nw)
		var c *stacktest.Node
		for i := range 20000 {
			if i == 10000 {
				c = stacktest.Start(t, stacktest.Policy{Local: otherHost, Remote: stacktest.HostB, Initiate: "start",
					LogLevel: "info"}, stacktest.Options{Net: nw})
			}
			f.send(mm1, [8]byte{})
		}
		c.WaitSAs(t, 2, 60*time.Second)
		st := b.Ctl(t, control.CmdStatus, "").Status
		t.Logf("20,000 MM1s from %s: B holds %d half-open, refused %d (source-share)", floodHost, st.HalfOpen,
			b.Daemon.Counters.Dropped(daemon.DropSourceShare))
		if st.HalfOpen != share {
			t.Errorf("half-open %d after the flood, want the flooding address's share %d", st.HalfOpen, share)
		}
		if st.Established != 2 {
			t.Errorf("B has %d established ISAKMP SAs, want 2 (A and the other peer)", st.Established)
		}
		ct := &b.Daemon.Counters
		if n := ct.Dropped(daemon.DropSourceShare); n != uint64(20000-share) {
			t.Errorf("source-share drops %d, want %d", n, 20000-share)
		}
		for _, r := range []daemon.Drop{daemon.DropPoolFull, daemon.DropLoopFull, daemon.DropHalfOpen} {
			if n := ct.Dropped(r); n != 0 {
				t.Errorf("%s drops %d, want 0", r, n)
			}
		}
		time.Sleep(11 * time.Second)
		rs := b.Records(t, summary, 0)
		if len(rs) == 0 || len(rs) > 2 {
			t.Fatalf("%d summary lines, want 1 or 2 (one per 10 s)", len(rs))
		}
		if rs[0]["level"] != "notice" || rs[0]["source-share"] != float64(20000-share) {
			t.Errorf("summary %v", rs[0])
		}
		_ = a
	})
}

// badKE returns the Aggressive Mode first message am1 with its KE replaced
// by 1, a value every MODP group refuses (RFC 2631, 2.1.5), only after
// our own key is generated.
func badKE(t *testing.T, am1 []byte) []byte {
	t.Helper()
	m, err := isakmp.Decode(am1)
	if err != nil {
		t.Fatal(err)
	}
	ke, ok := m.Find(isakmp.PayloadKE).(*isakmp.KE)
	if !ok {
		t.Fatal("AM1 without KE")
	}
	bad := make([]byte, len(ke.Data))
	bad[len(bad)-1] = 1
	ke.Data = bad
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAggressiveBadKEFlood: one address sends 3,000 Aggressive Mode
// first messages with a KE our Diffie-Hellman refuses. Each failure is
// charged to the address; once the charges reach the load mark its AM1s
// are deferred before any work, so the flood costs about that many
// Diffie-Hellman computations, not 3,000; a peer at another address
// establishes meanwhile, and nothing is dropped for pool space.
func TestAggressiveBadKEFlood(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		const mark = 32
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: "192.0.2.0/24", Mode: "aggressive",
			LogLevel: "info", Daemon: "under-load: {half-open: 32}"}, stacktest.Options{Net: nw})
		stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, Mode: "aggressive",
			Initiate: "start", LogLevel: "info"}, stacktest.Options{Net: nw})
		b.WaitSAs(t, 2, 30*time.Second)
		am1 := badKE(t, sentBy(t, nw, stacktest.HostA, isFirst(isakmp.ExchangeAggressive)))
		ct := &b.Daemon.Counters
		before := ct.WorkDone.Load()

		f := newFlooder(t, nw)
		var c *stacktest.Node
		for i := range 3000 {
			if i == 1500 {
				c = stacktest.Start(t, stacktest.Policy{Local: otherHost, Remote: stacktest.HostB, Mode: "aggressive",
					Initiate: "start", LogLevel: "info"}, stacktest.Options{Net: nw})
			}
			f.send(am1, [8]byte{})
		}
		c.WaitSAs(t, 2, 60*time.Second)
		t.Logf("flood of 3,000 bad AM1s: %d worker jobs, %d deferred, %d rate-limited, %d source-share",
			ct.WorkDone.Load()-before, ct.Dropped(daemon.DropDeferred), ct.Dropped(daemon.DropRateLimit), ct.Dropped(daemon.DropSourceShare))
		// The other peer's phase 1 and Quick Mode cost a few jobs too.
		if n := ct.WorkDone.Load() - before; n > mark+5 {
			t.Errorf("%d worker jobs during the flood, want at most the load mark %d and the other peer's", n, mark)
		}
		if n := ct.Dropped(daemon.DropDeferred); n < 3000-mark-5 {
			t.Errorf("aggressive-deferred %d, want nearly all of 3,000", n)
		}
		if n := ct.Dropped(daemon.DropPoolFull); n != 0 {
			t.Errorf("pool-full drops %d, want 0", n)
		}
		if st := b.Ctl(t, control.CmdStatus, "").Status; st.Established != 2 || st.HalfOpen != 0 {
			t.Errorf("B: %d established, %d half-open; want 2, 0", st.Established, st.HalfOpen)
		}
	})
}
