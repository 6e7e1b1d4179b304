package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is a run's outcome; -json prints it as it is.
type Report struct {
	Targets   []string `json:"targets"`
	Port      uint16   `json:"port"`
	Mode      string   `json:"mode"`
	Auth      string   `json:"auth"`
	IKE       string   `json:"ike"`
	QuickMode bool     `json:"quick_mode"`
	Sources   int      `json:"sources"`
	Ports     int      `json:"ports_per_source"`

	Begun       int `json:"begun"`
	Established int `json:"established"`
	Failed      int `json:"failed"`
	Unfinished  int `json:"unfinished"`
	// Seconds runs from the first SA begun to the last one finished;
	// Rate is Established over it.
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"sas_per_second"`
	// Latency is from the first message to the SA done (with Quick Mode:
	// its bundle installed); Phase1 to the ISAKMP SA established.
	Latency Percentiles `json:"latency_ms"`
	Phase1  Percentiles `json:"phase1_latency_ms"`
	// Failures counts the failed SAs by reason: the peer's notify, a
	// timeout, or what else ended them.
	Failures map[string]int `json:"failures"`
	// Refused counts datagrams the daemons tried to send to an address
	// that is not a target (none is sent); Foreign those received from
	// one (dropped).
	Refused uint64 `json:"refused_sends"`
	// Withheld counts the datagrams -half-open kept back (all but first
	// messages).
	Withheld uint64 `json:"withheld_sends,omitempty"`
	Foreign  uint64 `json:"foreign_received"`
}

func (r *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) writeText(w io.Writer) {
	what := "ISAKMP SAs"
	if r.QuickMode {
		what = "SA pairs (ISAKMP SA + Quick Mode)"
	}
	fmt.Fprintf(w, "ikeload: %s %s %s to %s port %d from %d address(es) x %d port(s)\n",
		r.Mode, r.Auth, r.IKE, strings.Join(r.Targets, ","), r.Port, r.Sources, r.Ports)
	fmt.Fprintf(w, "%d %s established of %d begun, %d failed, in %.2f s: %.1f SAs/s\n",
		r.Established, what, r.Begun, r.Failed, r.Seconds, r.Rate)
	fmt.Fprintf(w, "latency   p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	if r.QuickMode {
		fmt.Fprintf(w, "phase 1   p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n", r.Phase1.P50, r.Phase1.P90, r.Phase1.P99, r.Phase1.Max)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "failures by reason:\n")
		keys := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return r.Failures[b] - r.Failures[a] })
		for _, k := range keys {
			fmt.Fprintf(w, "  %6d  %s\n", r.Failures[k], k)
		}
	}
	if r.Withheld > 0 {
		fmt.Fprintf(w, "%d datagrams after first messages were withheld (-half-open)\n", r.Withheld)
	}
	if r.Refused > 0 {
		fmt.Fprintf(w, "%d datagrams to addresses other than the targets were refused\n", r.Refused)
	}
}

// bar draws the progress line: a bar over the SAs (or over the time, in
// a duration run), the counts and the rate so far.
func bar(p Progress) string {
	frac := 0.0
	switch {
	case p.Total > 0:
		frac = float64(p.OK+p.Failed) / float64(p.Total)
	case p.Duration > 0:
		frac = float64(p.Elapsed) / float64(p.Duration)
	}
	frac = min(max(frac, 0), 1)
	const width = 30
	n := int(frac * width)
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.OK) / s
	}
	return fmt.Sprintf("\r[%s%s] %3.0f%%  ok %d  failed %d  in flight %d  %.0f/s  %s ",
		strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.OK, p.Failed, p.Begun-p.OK-p.Failed, rate,
		p.Elapsed.Round(100*time.Millisecond))
}
