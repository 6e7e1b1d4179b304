package policymgr

import (
	"testing"
	"time"
)

// opsPolicy is a policy with one connection, extra daemon and connection
// keys put in.
func opsPolicy(daemon, conn string) string {
	return dedent(`
	daemon:
	  engine: none
	` + daemon + base + `
	connections:
	  branch:
	    local-address: 198.51.100.0/24
	    remote-address: 203.0.113.0/24
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike], psk: x}
	    proposal-list: l
	` + conn)
}

// TestMetricsAndUpdownKeys: daemon.metrics.listen and a connection's
// updown and updown-timeout, their defaults, and the findings of wrong
// values with their lines.
func TestMetricsAndUpdownKeys(t *testing.T) {
	p, fs, err := LoadFindings(writePolicy(t, opsPolicy("", "")), LoadOptions{})
	if err != nil || p == nil || len(fs) != 0 {
		t.Fatalf("%v %v", err, fs)
	}
	c, _ := p.Connection("branch")
	if p.Daemon.Metrics.Listen != "" || c.Updown != "" || c.UpdownTimeout != 30*time.Second || c.SHA256Trunc96 || c.KeyingTries != 1 {
		t.Errorf("defaults: metrics %q, updown %q %v", p.Daemon.Metrics.Listen, c.Updown, c.UpdownTimeout)
	}

	p, fs, err = LoadFindings(writePolicy(t, opsPolicy("\t  metrics: {listen: \"[::1]:9772\"}",
		"\t    updown: /etc/iked/updown.sh\n\t    updown-timeout: 2s\n\t    sha256-96: true\n\t    keying-tries: forever\n\t    rekey: {margin: 10m, jitter: 5m}")), LoadOptions{})
	if err != nil || p == nil || len(fs) != 0 {
		t.Fatalf("%v %v", err, fs)
	}
	c, _ = p.Connection("branch")
	if p.Daemon.Metrics.Listen != "[::1]:9772" || c.Updown != "/etc/iked/updown.sh" || c.UpdownTimeout != 2*time.Second || !c.SHA256Trunc96 || c.KeyingTries != 0 ||
		c.RekeyMargin != 10*time.Minute || c.RekeyJitter != 5*time.Minute {
		t.Errorf("values: metrics %q, updown %q %v", p.Daemon.Metrics.Listen, c.Updown, c.UpdownTimeout)
	}

	_, fs, _ = LoadFindings(writePolicy(t, opsPolicy("\t  metrics: {listen: \"localhost\", port: 1}",
		"\t    updown: updown.sh\n\t    updown-timeout: 2h")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 3: daemon metrics listen "localhost": it must be ADDRESS:PORT, as 127.0.0.1:9772 or [::1]:9772`,
		`0|line 3: unknown key "port" in daemon metrics`,
		`0|line 36: connection "branch" updown "updown.sh": the script must be given by its absolute path`,
		`0|line 37: connection "branch" updown-timeout must be between 100ms and 1h0m0s, not 2h0m0s`,
		"21|" + txt21,
	})
}
