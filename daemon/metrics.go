package daemon

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/iked/iked/xauth"
)

// metrics are the daemon's Prometheus metrics (docs/policy-file.md,
// daemon.metrics). What the daemon counts anyway (Counters, the engine
// queue's statistics) is read at scrape time; the SA tables are read
// through the loop, as ikectl's queries are, so a scrape never touches
// them from another goroutine; the rest is counted from the log's
// events (observe.go) and from the loop as it happens.
type metrics struct {
	reg       *prometheus.Registry
	phase1    prometheus.Histogram
	quickMode prometheus.Histogram
	failures  *prometheus.CounterVec // catalog messages at notice or above, by number
	ipsec     *prometheus.CounterVec // IPsec SA events by connection and verb
	srv       *http.Server
	done      chan struct{}
}

// negotiationBuckets are the histograms' upper bounds in seconds: a
// loopback exchange takes milliseconds, one over a lossy path seconds of
// retransmission (daemon.retransmit).
var negotiationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		phase1: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "iked_phase1_duration_seconds",
			Help:    "Time from the first message of a phase 1 exchange to its ISAKMP SA's authentication.",
			Buckets: negotiationBuckets}),
		quickMode: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "iked_quick_mode_duration_seconds",
			Help:    "Time from the first message of a Quick Mode to its IPsec SAs' installation.",
			Buckets: negotiationBuckets}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iked_negotiation_failures_total",
			Help: "Catalog messages logged at notice level or above (failed negotiations, refused peers and policies), by message number (docs/messages.md)."},
			[]string{"message"}),
		ipsec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iked_ipsec_sa_events_total",
			Help: "IPsec SA bundles that came up, were rekeyed or went down, by connection."},
			[]string{"conn", "event"}),
	}
	m.reg.MustRegister(m.phase1, m.quickMode, m.failures, m.ipsec, collector{d}, xauth.Checks,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// serve opens the metrics listener; Start calls it, and a failure to bind
// stops the start as the IKE sockets' does.
func (m *metrics) serve(addr string, log func(string, ...zap.Field)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log("metrics server stopped", zap.Error(err))
		}
	}()
	return nil
}

func (m *metrics) close() {
	if m.srv != nil {
		m.srv.Close()
		<-m.done
		m.srv = nil
	}
}

// observePhase1 records an ISAKMP SA's negotiation time (from the loop).
func (m *metrics) observePhase1(d time.Duration) { m.phase1.Observe(d.Seconds()) }

// The gauges and counters read at scrape time.
var (
	descDatagrams = prometheus.NewDesc("iked_datagrams_received_total",
		"UDP datagrams read from the IKE and NAT-T sockets.", nil, nil)
	descBytes = prometheus.NewDesc("iked_received_bytes_total",
		"Bytes of the datagrams read.", nil, nil)
	descDropped = prometheus.NewDesc("iked_datagrams_dropped_total",
		"Datagrams dropped, by reason (as ikectl stats lists them).", []string{"reason"}, nil)
	descSent = prometheus.NewDesc("iked_datagrams_sent_total",
		"Datagrams sent.", nil, nil)
	descSendErrors = prometheus.NewDesc("iked_send_errors_total",
		"Datagrams the socket refused to send.", nil, nil)
	descRetransmits = prometheus.NewDesc("iked_retransmits_total",
		"Our requests sent again for want of an answer.", nil, nil)
	descFragmentsIn = prometheus.NewDesc("iked_fragments_received_total",
		"IKE fragments taken for reassembly (the dropped ones are in iked_datagrams_dropped_total).", nil, nil)
	descReassembled = prometheus.NewDesc("iked_messages_reassembled_total",
		"IKE messages joined from fragments.", nil, nil)
	descFragmented = prometheus.NewDesc("iked_messages_fragmented_total",
		"IKE messages sent in fragments (each send counted, retransmissions included).", nil, nil)
	descFragmentsOut = prometheus.NewDesc("iked_fragments_sent_total",
		"IKE fragments sent.", nil, nil)
	descRemoved = prometheus.NewDesc("iked_isakmp_sas_removed_total",
		"ISAKMP SAs removed, by reason.", []string{"reason"}, nil)
	descISAKMP = prometheus.NewDesc("iked_isakmp_sas",
		"ISAKMP SAs in the table, by state.", []string{"state"}, nil)
	descHalfOpen = prometheus.NewDesc("iked_half_open_sas",
		"Responder ISAKMP SAs not yet authenticated (bounded by daemon.half-open-max).", nil, nil)
	descIPsec = prometheus.NewDesc("iked_ipsec_sas",
		"IPsec SA bundles, by state: installed, rekeying, or detached (their ISAKMP SA gone).", []string{"state"}, nil)
	descConnISAKMP = prometheus.NewDesc("iked_connection_isakmp_sas",
		"Established ISAKMP SAs of each connection of the policy.", []string{"conn"}, nil)
	descConnIPsec = prometheus.NewDesc("iked_connection_ipsec_sas",
		"IPsec SA bundles of each connection of the policy.", []string{"conn"}, nil)
	descConnUp = prometheus.NewDesc("iked_connection_up",
		"1 when the connection has an IPsec SA bundle, else 0.", []string{"conn"}, nil)
	descQueue = prometheus.NewDesc("iked_engine_queue_depth",
		"Requests waiting in the engine queue.", nil, nil)
	descQueueHigh = prometheus.NewDesc("iked_engine_queue_high_water",
		"The most requests the engine queue has held.", nil, nil)
	descEngineDropped = prometheus.NewDesc("iked_engine_requests_dropped_total",
		"Requests the engine queue dropped, by kind.", []string{"kind"}, nil)
	descIOJobs = prometheus.NewDesc("iked_io_jobs_total",
		"Blocking jobs (XAUTH backend checks) of the I/O pool: done, or refused when it was full.", []string{"result"}, nil)
)

// collector reads the daemon's state at scrape time.
type collector struct{ d *Daemon }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDatagrams, descBytes, descDropped, descSent, descSendErrors,
		descRetransmits, descFragmentsIn, descReassembled, descFragmented, descFragmentsOut, descRemoved, descISAKMP, descHalfOpen, descIPsec, descConnISAKMP, descConnIPsec,
		descConnUp, descQueue, descQueueHigh, descEngineDropped, descIOJobs} {
		ch <- d
	}
}

// tableSnapshot is what a scrape reads through the loop.
type tableSnapshot struct {
	established, halfOpenSAs, halfOpen int
	ipsec                              map[string]int
	connISAKMP, connIPsec              map[string]int
	conns                              []string
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	ct := &d.Counters
	counter(descDatagrams, ct.Datagrams.Load())
	counter(descBytes, ct.Bytes.Load())
	for r := Drop(0); r < numDrops; r++ {
		counter(descDropped, ct.Dropped(r), r.String())
	}
	counter(descSent, ct.Sent.Load())
	counter(descSendErrors, ct.SendErrors.Load())
	counter(descRetransmits, ct.Retransmits.Load())
	counter(descFragmentsIn, ct.FragmentsReceived.Load())
	counter(descReassembled, ct.Reassembled.Load())
	counter(descFragmented, ct.Fragmented.Load())
	counter(descFragmentsOut, ct.FragmentsSent.Load())
	for r := RemoveReason(0); r < numRemoveReasons; r++ {
		counter(descRemoved, ct.SARemoved[r].Load(), r.String())
	}
	counter(descIOJobs, ct.IODone.Load(), "done")
	counter(descIOJobs, ct.IORefused.Load(), "refused")

	var s tableSnapshot
	if d.call(func() { s = d.snapshot() }) {
		gauge(descISAKMP, float64(s.established), "established")
		gauge(descISAKMP, float64(s.halfOpenSAs), "half-open")
		gauge(descHalfOpen, float64(s.halfOpen))
		for _, state := range []string{"installed", "rekeying", "detached"} {
			gauge(descIPsec, float64(s.ipsec[state]), state)
		}
		for _, conn := range s.conns {
			gauge(descConnISAKMP, float64(s.connISAKMP[conn]), conn)
			gauge(descConnIPsec, float64(s.connIPsec[conn]), conn)
			up := 0.0
			if s.connIPsec[conn] > 0 {
				up = 1
			}
			gauge(descConnUp, up, conn)
		}
	}

	if d.eng != nil {
		q := d.eng.Stats()
		gauge(descQueue, float64(q.Len))
		gauge(descQueueHigh, float64(q.HighWater))
		counter(descEngineDropped, q.DroppedOrdinary, "ordinary")
		counter(descEngineDropped, q.DroppedImportant, "important")
		counter(descEngineDropped, q.Displaced, "displaced")
	}
}

// snapshot counts the SA tables for a scrape; it runs on the loop.
func (d *Daemon) snapshot() tableSnapshot {
	s := tableSnapshot{halfOpen: d.halfOpen, ipsec: map[string]int{},
		connISAKMP: map[string]int{}, connIPsec: map[string]int{}}
	if d.policy != nil {
		for _, c := range d.policy.Conns {
			s.conns = append(s.conns, c.Name)
		}
	}
	// Counted, not described: a description of each bundle (list-sas)
	// allocates and, with the xfrm engine, asks the kernel for each SA's
	// byte counter, on the loop.
	d.eachSA(func(sa *SA) {
		if !sa.Established {
			s.halfOpenSAs++
			return
		}
		s.established++
		s.connISAKMP[sa.Conn]++
		if d.lister != nil {
			d.lister.CountChildren(sa, func(conn, state string) {
				s.ipsec[state]++
				s.connIPsec[conn]++
			})
		}
	})
	if d.lister != nil {
		d.lister.CountChildren(nil, func(conn, _ string) {
			s.ipsec["detached"]++
			s.connIPsec[conn]++
		})
	}
	return s
}

// countEvent counts one IPsec SA event (observe.go).
func (m *metrics) countEvent(conn, verb string) { m.ipsec.WithLabelValues(conn, verb).Inc() }

// countFailure counts a catalog message at notice level or above.
func (m *metrics) countFailure(num int) { m.failures.WithLabelValues(strconv.Itoa(num)).Inc() }
