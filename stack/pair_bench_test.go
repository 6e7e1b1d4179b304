package stack_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/stack/stacktest"
)

// BenchmarkSAPair counts what one SA pair costs the two daemons together:
// each op is one ISAKMP SA (Main Mode, PSK, AES-128, SHA-256, ECP256) and
// one IPsec SA bundle (Quick Mode, no PFS), initiated by one daemon and
// answered by the other, both with the production wiring (stack/stacktest)
// on the in-memory network in real time, engine none, the log at info
// level in JSON as a default daemon writes it (to a sink that keeps
// nothing), and then the pair deleted (`ikectl terminate` of its
// cookie). One pair set up before the ops stays up throughout, as in a
// daemon that holds SAs: the ops' SAs find its entries in the tables and
// timers, and the initiator sends no INITIAL-CONTACT. The pairs run one
// after another. Its figures of interest are -benchmem's allocs/op and
// B/op (the harness's share, the network's copies and the control calls,
// is in them too, the same in every run):
//
//	go test -run '^$' -bench SAPair -benchmem -benchtime 300x ./stack/
func BenchmarkSAPair(b *testing.B) {
	nw := &stacktest.Net{}
	p := stacktest.Policy{LogLevel: "info", Retransmit: "{timeout: 5s, tries: 5}"}
	pa, pb := p, p
	pb.Local, pb.Remote = stacktest.HostB, stacktest.HostA
	pa.Local, pa.Remote = stacktest.HostA, stacktest.HostB
	ecp := func(p stacktest.Policy) func(string) string {
		return func(sock string) string { return strings.Replace(p.YAML(sock), "modp2048", "ecp256", 1) }
	}
	initW, respW := newPairSignals(), newPairSignals()
	resp := stacktest.StartYAML(b, ecp(pb), stacktest.Options{Net: nw, LogTo: respW, Watch: respW})
	init := stacktest.StartYAML(b, ecp(pa), stacktest.Options{Net: nw, LogTo: initW, Watch: initW})
	const limit = 10 * time.Second
	wait := func(ch chan struct{}, what string) {
		select {
		case <-ch:
		case <-time.After(limit):
			b.Fatalf("%s: not within %v", what, limit)
		}
	}
	pair := func() (cookie string) {
		init.Ctl(b, control.CmdInitiate, "link")
		wait(initW.ipsecUp, "the initiator's IPsec SA")
		wait(respW.ipsecUp, "the responder's IPsec SA")
		return hex.EncodeToString(initW.last.I[:])
	}
	anchor := pair()
	for b.Loop() {
		cookie := pair()
		if cookie == anchor {
			b.Fatal("no new ISAKMP SA established")
		}
		init.Ctl(b, control.CmdTerminate, cookie)
		wait(initW.removed, "the initiator's ISAKMP SA deleted")
		wait(respW.removed, "the responder's ISAKMP SA deleted")
	}
	b.StopTimer()
	// The engines delete the last pair's IPsec SAs after its ISAKMP SAs
	// are gone, on their own goroutines.
	stacktest.Wait(b, limit, "the standing pair's 2 IPsec SAs alone in each engine", func() bool {
		return len(resp.Engine.SAs()) == 2 && len(init.Engine.SAs()) == 2
	})
}

// pairSignals is a daemon's log sink and Watcher in BenchmarkSAPair: it
// signals each "IPsec SA established" line and each ISAKMP SA removed,
// and keeps the cookies of the last ISAKMP SA established.
type pairSignals struct {
	ipsecUp, removed chan struct{}
	// last is written on the daemon's loop before the IPsec SA's line,
	// and read after that line was signalled.
	last daemon.Cookies
}

func newPairSignals() *pairSignals {
	return &pairSignals{ipsecUp: make(chan struct{}, 16), removed: make(chan struct{}, 16)}
}

var ipsecUpLine = []byte(`"msg":"IPsec SA established"`)

// Write takes one log entry (zap writes each in one call).
func (s *pairSignals) Write(p []byte) (int, error) {
	if bytes.Contains(p, ipsecUpLine) {
		s.ipsecUp <- struct{}{}
	}
	return len(p), nil
}

func (s *pairSignals) SAEstablished(c *daemon.Context) daemon.Result {
	s.last = c.SA.Cookies
	return daemon.Result{}
}

func (s *pairSignals) SARemoved(*daemon.Context, daemon.RemoveReason) daemon.Result {
	s.removed <- struct{}{}
	return daemon.Result{}
}
