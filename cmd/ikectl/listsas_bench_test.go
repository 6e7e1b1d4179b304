package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// BenchmarkListSAs times `ikectl list-sas` and `ikectl -json list-sas`
// against a daemon with the production wiring (stack/stacktest) holding
// IKECTL_BENCH_SAS (default 1,000) established ISAKMP SAs, each with one
// IPsec SA bundle (engine none, transport mode), as scripts/bench-scale.sh
// makes them but without its network namespaces: the two daemons talk
// over the in-memory network in real time. While each listing runs, a
// probe asks the responder's loop for its status over and over; the
// longest wait of a probe (loop-ms) bounds how long the listing kept the
// loop from IKE traffic ("idle" is the probe alone for 200 ms: what the
// machine's load and the collector give without a listing). The figures are in docs/performance.md ("ikectl
// list-sas at scale").
//
//	IKECTL_BENCH_SAS=10000 go test -run '^$' -bench ListSAs -benchtime 3x ./cmd/ikectl/
func BenchmarkListSAs(b *testing.B) {
	n := 1000
	if s := os.Getenv("IKECTL_BENCH_SAS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("IKECTL_BENCH_SAS=%q", s)
		}
		n = v
	}
	resp := holdSAs(b, n)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"text", []string{"list-sas"}},
		{"json", []string{"-json", "list-sas"}},
		{"idle", nil}, // the probe alone, for comparison
	} {
		b.Run(tc.name, func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				stop := probeLoop(resp, &worst)
				code := 0
				if tc.args == nil {
					time.Sleep(200 * time.Millisecond)
				} else {
					code = run(append([]string{"-socket", resp.Socket, "-timeout", "10m"}, tc.args...), io.Discard, io.Discard)
				}
				stop()
				if code != 0 {
					b.Fatalf("ikectl %v: exit %d", tc.args, code)
				}
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "loop-ms")
		})
	}
}

// holdSAs starts two daemons on an in-memory network (ECP256, no PFS, so
// that the ramp is quick) and has the first initiate n ISAKMP SAs, each
// with its Quick Mode, with the second; it returns the second (the
// responder, with its control socket open) once it holds them all.
func holdSAs(b testing.TB, n int) *stacktest.Node {
	b.Helper()
	nw := &stacktest.Net{}
	limits := "half-open-max: 65536\nunder-load: {half-open: 65536}\ninitiate-max: 256\ninitiate-per-peer: 256"
	p := stacktest.Policy{LogLevel: "error", Daemon: limits, Retransmit: "{timeout: 5s, tries: 5}"}
	pa, pb := p, p
	pb.Local, pb.Remote = stacktest.HostB, stacktest.HostA
	pa.Local, pa.Remote = stacktest.HostA, stacktest.HostB
	ecp := func(p stacktest.Policy) func(string) string {
		return func(sock string) string { return strings.Replace(p.YAML(sock), "modp2048", "ecp256", 1) }
	}
	resp := stacktest.StartYAML(b, ecp(pb), stacktest.Options{Net: nw, Control: true, EngineQueue: 1 << 20})
	init := stacktest.StartYAML(b, ecp(pa), stacktest.Options{Net: nw, EngineQueue: 1 << 20})
	held := func() int { return resp.Ctl(b, control.CmdStatus, "").Status.Established }
	start := time.Now()
	// The first SA up, the initiator sends no INITIAL-CONTACT with the
	// others, which would remove it.
	init.Ctl(b, control.CmdInitiate, "link")
	stacktest.Wait(b, time.Minute, "the first ISAKMP SA", func() bool { return held() == 1 }, resp, init)
	for range n - 1 {
		init.Ctl(b, control.CmdInitiate, "link")
	}
	stacktest.Wait(b, time.Duration(n)*20*time.Millisecond+time.Minute, "ISAKMP SAs established", func() bool {
		return held() == n && len(resp.Engine.SAs()) == 2*n
	}, resp, init)
	b.Logf("%d SA pairs up in %v", n, time.Since(start).Round(time.Millisecond))
	return resp
}

// probeLoop asks n's loop for its status until stopped, keeping in worst
// the longest answer.
func probeLoop(n *stacktest.Node, worst *time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			t := time.Now()
			n.Daemon.Control(control.Request{Command: control.CmdStatus})
			*worst = max(*worst, time.Since(t))
			time.Sleep(time.Millisecond)
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestListSAsJSONAsEncoded: the -json answer of a daemon's list-sas,
// indented as it arrives, is what encoding/json's Encoder prints for the
// Response it decodes to, as ikectl printed it before it streamed.
func TestListSAsJSONAsEncoded(t *testing.T) {
	resp := holdSAs(t, 20)
	var out, errb bytes.Buffer
	if code := run([]string{"-socket", resp.Socket, "-json", "list-sas"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r control.Response
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.SAs) != 20 || len(r.SAs[19].Children) != 1 {
		t.Fatalf("%v: %d SAs", err, len(r.SAs))
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("ikectl -json list-sas:\n%s\nencoding/json:\n%s", out.String(), want.String())
	}
}
