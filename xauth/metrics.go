package xauth

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iked/iked/policymgr"
)

// Result is what one check came to, as the metrics count it.
type Result uint8

const (
	Accepted Result = iota // the password was right
	Rejected               // the name or password was wrong (ErrRejected)
	Failed                 // the backend could not answer
	numResults
)

func (r Result) String() string {
	switch r {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case Failed:
		return "failed"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// resultOf classifies Check's error.
func resultOf(err error) Result {
	switch {
	case err == nil:
		return Accepted
	case isRejected(err):
		return Rejected
	}
	return Failed
}

const numBackends = int(policymgr.XAuthPAM) + 1

// Counters counts checks by backend and result. It is a Prometheus
// collector (iked_xauth_checks_total); it holds no name or password.
type Counters struct {
	n [numBackends][numResults]atomic.Uint64
}

// Checks counts the checks of every backend Open builds, across reloads;
// the daemon's metrics registry serves it.
var Checks = &Counters{}

// Count returns how many checks of backend b came to r.
func (c *Counters) Count(b policymgr.XAuthBackend, r Result) uint64 {
	if int(b) >= numBackends || r >= numResults {
		return 0
	}
	return c.n[b][r].Load()
}

func (c *Counters) add(b policymgr.XAuthBackend, r Result) {
	if int(b) < numBackends && r < numResults {
		c.n[b][r].Add(1)
	}
}

var descChecks = prometheus.NewDesc("iked_xauth_checks_total",
	"XAUTH user name and password checks, by backend (file, radius, pam) and result (accepted, rejected, failed: the backend could not answer).",
	[]string{"backend", "result"}, nil)

// Describe implements prometheus.Collector.
func (c *Counters) Describe(ch chan<- *prometheus.Desc) { ch <- descChecks }

// Collect implements prometheus.Collector.
func (c *Counters) Collect(ch chan<- prometheus.Metric) {
	for b := policymgr.XAuthFile; int(b) < numBackends; b++ {
		for r := Accepted; r < numResults; r++ {
			ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(c.Count(b, r)), b.String(), r.String())
		}
	}
}
