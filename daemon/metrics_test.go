package daemon_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// freeTCP returns a loopback address and port nothing listens on.
func freeTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape reads /metrics over HTTP and parses it with Prometheus's own
// parser; it returns the families and how long the request took.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, time.Duration) {
	t.Helper()
	began := time.Now()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams, time.Since(began)
}

// value returns the value of the family's metric whose labels include
// labels (name, value, ...), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func want(t *testing.T, fams map[string]*dto.MetricFamily, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(fams, name, labels...)
	if !ok {
		t.Errorf("%s%v: not exposed", name, labels)
	} else if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

// TestMetrics: a daemon serving daemon.metrics on loopback, scraped over
// HTTP and parsed by expfmt: a datagram too short to be ISAKMP is a drop
// by reason, a peer with another PSK a failure by catalog message (46),
// then a good peer's ISAKMP and IPsec SAs by state, the connection up,
// the phase 1 and Quick Mode histograms, the up event, and after
// terminate the connection down.
func TestMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback end to end in -short mode")
	}
	port := 20000 + rand.IntN(20000)
	maddr := freeTCP(t)
	fast := "{timeout: 200ms, tries: 2}"
	a := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.1", Remote: "127.0.0.2", IKEPort: port, PSK: "metrics key",
		Metrics: maddr, Retransmit: fast}, stacktest.Options{})

	u, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte{1, 2, 3})
	u.Close()

	bad := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.2", Remote: "127.0.0.1", IKEPort: port, PSK: "another key",
		Retransmit: fast}, stacktest.Options{})
	a.Ctl(t, control.CmdInitiate, "link")
	var fams map[string]*dto.MetricFamily
	stacktest.Wait(t, 15*time.Second, "message 46 counted", func() bool {
		fams, _ = scrape(t, maddr)
		v, _ := value(fams, "iked_negotiation_failures_total", "message", "46")
		return v >= 1
	}, a, bad)
	want(t, fams, 1, "iked_datagrams_dropped_total", "reason", "short")
	bad.Daemon.Stop()
	stacktest.Wait(t, 10*time.Second, "the failed SA gone", func() bool {
		return len(a.Ctl(t, control.CmdListSAs, "").SAs) == 0
	}, a)

	b := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.2", Remote: "127.0.0.1", IKEPort: port, PSK: "metrics key",
		Retransmit: fast}, stacktest.Options{})
	a.Ctl(t, control.CmdInitiate, "link")
	a.WaitSAs(t, 2, 10*time.Second)
	b.WaitSAs(t, 2, 10*time.Second)
	stacktest.Wait(t, 5*time.Second, "the up event counted", func() bool {
		fams, _ = scrape(t, maddr)
		v, _ := value(fams, "iked_ipsec_sa_events_total", "conn", "link", "event", "up")
		return v == 1
	}, a)
	if v, _ := value(fams, "iked_datagrams_received_total"); v < 4 {
		t.Errorf("iked_datagrams_received_total = %v", v)
	}
	want(t, fams, 1, "iked_isakmp_sas", "state", "established")
	want(t, fams, 0, "iked_isakmp_sas", "state", "half-open")
	want(t, fams, 0, "iked_half_open_sas")
	want(t, fams, 1, "iked_ipsec_sas", "state", "installed")
	want(t, fams, 1, "iked_connection_up", "conn", "link")
	want(t, fams, 1, "iked_connection_ipsec_sas", "conn", "link")
	want(t, fams, 1, "iked_quick_mode_duration_seconds")
	want(t, fams, 0, "iked_engine_queue_depth")
	if _, ok := value(fams, "iked_xauth_checks_total", "backend", "radius", "result", "failed"); !ok {
		t.Error("iked_xauth_checks_total: not exposed")
	}
	if v, _ := value(fams, "iked_phase1_duration_seconds"); v != 1 {
		t.Errorf("phase 1 histogram count %v, want 1 (the failed one is not a duration)", v)
	}
	if v, _ := value(fams, "iked_engine_queue_high_water"); v < 1 {
		t.Errorf("engine queue high water %v", v)
	}

	a.Ctl(t, control.CmdTerminate, "link")
	stacktest.Wait(t, 5*time.Second, "the down event counted", func() bool {
		fams, _ = scrape(t, maddr)
		v, _ := value(fams, "iked_ipsec_sa_events_total", "conn", "link", "event", "down")
		return v == 1
	}, a)
	want(t, fams, 0, "iked_connection_up", "conn", "link")
	want(t, fams, 0, "iked_ipsec_sas", "state", "installed")
	want(t, fams, 1, "iked_isakmp_sas_removed_total", "reason", "terminated")
}

// TestMetricsThousandSAs scrapes a daemon holding 1,000 ISAKMP SAs and
// 1,000 IPsec SA bundles with its peer on loopback, and reports how long
// a scrape takes (not asserted: timings depend on the machine).
func TestMetricsThousandSAs(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 negotiations in -short mode")
	}
	const n = 1000
	port := 20000 + rand.IntN(20000)
	maddr := freeTCP(t)
	a := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.1", Remote: "127.0.0.2", IKEPort: port, LogLevel: "notice",
		Metrics: maddr, Retransmit: "{timeout: 2s, tries: 5}"}, stacktest.Options{})
	b := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.2", Remote: "127.0.0.1", IKEPort: port, LogLevel: "notice",
		Retransmit: "{timeout: 2s, tries: 5}"}, stacktest.Options{})
	// The first SA's INITIAL-CONTACT goes first, so that it does not
	// clear the others; then 40 a second, under the responder's limit of
	// new SAs per source (daemon.DefaultSettings: 50 a second).
	a.Ctl(t, control.CmdInitiate, "link")
	a.WaitSAs(t, 2, 10*time.Second)
	for i := 1; i < n; i++ {
		a.Ctl(t, control.CmdInitiate, "link")
		time.Sleep(25 * time.Millisecond)
	}
	var fams map[string]*dto.MetricFamily
	stacktest.Wait(t, 120*time.Second, "1,000 IPsec SA bundles", func() bool {
		fams, _ = scrape(t, maddr)
		v, _ := value(fams, "iked_ipsec_sas", "state", "installed")
		return v == n
	}, a, b)
	want(t, fams, n, "iked_isakmp_sas", "state", "established")
	want(t, fams, n, "iked_connection_ipsec_sas", "conn", "link")
	var times []time.Duration
	for range 10 {
		_, d := scrape(t, maddr)
		times = append(times, d)
	}
	slices.Sort(times)
	t.Logf("scrape of %d ISAKMP SAs and %d IPsec SA bundles: min %v, median %v, max %v",
		n, n, times[0], times[len(times)/2], times[len(times)-1])
	if !strings.Contains(fmt.Sprint(fams["iked_quick_mode_duration_seconds"]), "sample_count") {
		t.Errorf("no Quick Mode histogram")
	}
}
