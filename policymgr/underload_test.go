package policymgr

import (
	"strings"
	"testing"
	"time"
)

// TestDaemonUnderLoad: the admission keys (daemon/admission.go) decode,
// default to a quarter of half-open-max, and a mistake names its line.
func TestDaemonUnderLoad(t *testing.T) {
	p, fs, err := LoadFindings(writePolicy(t, "daemon:\n  half-open-max: 400\n"), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal(err)
	}
	if u := p.Daemon.UnderLoad; u.HalfOpen != 100 || u.PerSource != 100 || u.Rate != 50 || u.Burst != 100 {
		t.Errorf("defaults for half-open-max 400: %+v", u)
	}
	if d := p.Daemon; d.HalfOpenLifetime != time.Minute || d.ReplyCacheTime != time.Minute {
		t.Errorf("lifetimes: %v %v", d.HalfOpenLifetime, d.ReplyCacheTime)
	}
	p, fs, err = LoadFindings(writePolicy(t, dedent(`
	daemon:
	  half-open-lifetime: 30s
	  reply-cache-time: 2m
	  under-load: {half-open: 10, per-source: 3, rate: 5, burst: 7}
	`)), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal(err)
	}
	d := p.Daemon
	if d.HalfOpenLifetime != 30*time.Second || d.ReplyCacheTime != 2*time.Minute ||
		d.UnderLoad != (UnderLoad{HalfOpen: 10, PerSource: 3, Rate: 5, Burst: 7}) {
		t.Errorf("values: %+v", d)
	}
	for _, c := range []struct {
		text string
		line int
		want string
	}{
		{"daemon:\n  half-open-max: 100\n  under-load:\n    half-open: 200\n", 3, "under-load half-open 200 is above half-open-max 100"},
		{"daemon:\n  under-load:\n    rate: 0\n", 3, "daemon under-load rate"},
		{"daemon:\n  under-load: {per-source: -1}\n", 2, "daemon under-load per-source"},
		{"daemon:\n  under-load: {share: 3}\n", 2, "share"},
		{"daemon:\n  half-open-lifetime: 100ms\n", 2, "half-open-lifetime"},
		{"daemon:\n\n  reply-cache-time: forever\n", 3, "reply-cache-time"},
	} {
		p, fs, _ := LoadFindings(writePolicy(t, c.text), LoadOptions{})
		if p != nil || len(fs) == 0 || fs[0].Line != c.line || !strings.Contains(fs[0].Text, c.want) {
			logFindings(t, fs)
			t.Errorf("%q: want a refusal at line %d naming %q", c.text, c.line, c.want)
		}
	}
}
