package quickmode

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// benchPolicy is loadPolicy for a benchmark: the harness's policyYAML,
// loaded by policymgr as the daemon loads it.
func benchPolicy(b *testing.B, s qmSide) *policymgr.Policy {
	b.Helper()
	text := policyYAML(s)
	path := filepath.Join(b.TempDir(), "iked.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	p, msgs, err := policymgr.Load(path, policymgr.LoadOptions{})
	if err != nil || p == nil {
		b.Fatalf("policy did not load: %v %v\n%s", err, msgs, text)
	}
	return p
}

// benchEstablish is establish of harness_test.go without a *testing.T:
// one Main Mode between the two policies, A initiating, and the two
// established ISAKMP SAs the Quick Modes then run on.
func benchEstablish(b *testing.B, pa, pb *policymgr.Policy) (sa, sb *phase1.SA) {
	b.Helper()
	env := phase1.Env{Now: testNow, Rand: rand.Reader}
	conn, _ := pa.Connection("c")
	var ic, rc [8]byte
	rand.Read(ic[:])
	rand.Read(rc[:])
	xi, st, err := phase1.NewInitiator(env, phase1.Config{Policy: pa}, conn, ic, gwA, gwB)
	if err != nil {
		b.Fatal(err)
	}
	var xr *phase1.Exchange
	type msg struct {
		toB  bool
		data []byte
	}
	var queue []msg
	var handle func(fromA bool, st phase1.Step)
	handle = func(fromA bool, st phase1.Step) {
		if st.Failed || st.Reject != nil {
			b.Fatalf("phase 1 failed: %v %v", st.Reject, st.Log)
		}
		if st.Send != nil {
			queue = append(queue, msg{fromA, st.Send})
		}
		if st.Work != nil {
			x := xi
			if !fromA {
				x = xr
			}
			handle(fromA, x.Resume(env, st.Work()))
		}
	}
	handle(true, st)
	for n := 0; len(queue) > 0 && n < 20; n++ {
		m := queue[0]
		queue = queue[1:]
		switch {
		case m.toB && xr == nil:
			var rs phase1.Step
			xr, rs = phase1.NewResponder(env, phase1.Config{Policy: pb}, ic, rc, gwB, gwA, m.data)
			if xr == nil {
				b.Fatalf("phase 1 responder refused: %v %v", rs.Reject, rs.Log)
			}
			handle(false, rs)
		case m.toB:
			handle(false, xr.Consume(env, m.data))
		default:
			handle(true, xi.Consume(env, m.data))
		}
	}
	if xi.SA.State != phase1.StateEstablished || xr == nil || xr.SA.State != phase1.StateEstablished {
		b.Fatal("phase 1 not established")
	}
	return xi.SA, xr.SA
}

// benchPeer is newPeer without a *testing.T: a fresh memory engine.
func benchPeer(b *testing.B, name string, p1 *phase1.SA, pol *policymgr.Policy) *qmPeer {
	back := memory.New(memory.Options{})
	if err := back.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { back.Close() })
	return &qmPeer{name: name, p1: p1, back: back, eng: engine.New(back, engine.Config{}),
		cfg: Config{Policy: pol, LifetimeMin: pol.Daemon.Phase2LifetimeMin}}
}

// quickMode runs one Quick Mode initiated by a on connection "c" with
// message ID mid and answered by b, as runQM does (every Work run and
// every engine request answered at once) but without recording datagrams
// for tshark, so that an iteration costs only the exchange and the two
// memory engines. It reports whether both sides got their Child.
func quickMode(a, b *qmPeer, conn *policymgr.Connection, mid uint32) bool {
	a.x, b.x, a.child, b.child, a.failed, b.failed = nil, nil, nil, nil, false, false
	x, st, err := NewInitiator(a.env(), a.cfg, a.p1, conn, mid)
	if err != nil {
		return false
	}
	a.x = x
	type msg struct {
		toB  bool
		data []byte
	}
	var queue []msg
	var handle func(p *qmPeer, st Step)
	handle = func(p *qmPeer, st Step) {
		p.failed = p.failed || st.Failed || st.Reject != nil
		if st.Child != nil {
			p.child = st.Child
		}
		if st.Send != nil {
			queue = append(queue, msg{p == a, st.Send})
		}
		var vals []any
		if st.Work != nil {
			vals = append(vals, st.Work())
		}
		for _, req := range st.Engine {
			vals = append(vals, p.eng.Do(req))
		}
		for _, v := range vals {
			if p.x == nil {
				return
			}
			handle(p, p.x.Resume(p.env(), v))
		}
	}
	handle(a, st)
	for n := 0; len(queue) > 0 && n < 20; n++ {
		m := queue[0]
		queue = queue[1:]
		switch {
		case m.toB && b.x == nil && !b.failed:
			x, st := NewResponder(b.env(), b.cfg, b.p1, m.data)
			b.x = x
			handle(b, st)
		case m.toB && b.x != nil:
			handle(b, b.x.Consume(b.env(), m.data))
		case !m.toB && a.x != nil:
			handle(a, a.x.Consume(a.env(), m.data))
		}
	}
	return !a.failed && !b.failed && a.child != nil && b.child != nil
}

// BenchmarkQuickMode is one whole Quick Mode (RFC 2409, 5.5) between two
// established ISAKMP SAs, both sides and both memory engines (SPI
// allocation, the install of four ESP SAs) in one goroutine: without PFS,
// and with PFS in group 19 (ECP 256, RFC 5903), which adds a DH key pair
// and a shared secret on each side. Each iteration uses a new message ID
// on the same ISAKMP SAs; the engines are replaced every few thousand
// iterations (outside the timer) so that their SA tables stay small.
func BenchmarkQuickMode(b *testing.B) {
	for _, c := range []struct{ name, pfs string }{{"nopfs", "none"}, {"pfs-group19", "ecp256"}} {
		b.Run(c.name, func(b *testing.B) {
			s := qmSide{pfs: c.pfs}
			sa, sb := s, s
			sa.self, sb.self = "a", "b"
			pa, pb := benchPolicy(b, sa), benchPolicy(b, sb)
			p1a, p1b := benchEstablish(b, pa, pb)
			conn, _ := pa.Connection("c")
			a, r := benchPeer(b, "A", p1a, pa), benchPeer(b, "B", p1b, pb)
			mid := uint32(0x10000000)
			if !quickMode(a, r, conn, mid) {
				b.Fatalf("Quick Mode does not complete:\n%s%s", a.logText(), r.logText())
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if n++; n%4096 == 0 {
					b.StopTimer()
					a, r = benchPeer(b, "A", p1a, pa), benchPeer(b, "B", p1b, pb)
					b.StartTimer()
				}
				mid++
				if !quickMode(a, r, conn, mid) {
					b.Fatalf("Quick Mode %#x did not complete:\n%s%s", mid, a.logText(), r.logText())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
		})
	}
}
