package daemon_test

import (
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// TestKeyingTries: a connection with `initiate: start` and keying-tries 3
// whose peer never answers is tried three times, 1 s then 2 s after each
// failure, then given up; with `keying-tries: forever` it is tried until
// the peer comes, and the series ends once the ISAKMP SA is established.
// In virtual time over daemontest's network.
func TestKeyingTries(t *testing.T) {
	t.Run("three", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, Initiate: "start",
				KeyingTries: "3", Retransmit: "{timeout: 500ms, tries: 2}"}, stacktest.Options{Net: nw})
			time.Sleep(10 * time.Minute)
			retries := a.Records(t, "connection failed: retrying", 0)
			if len(retries) != 2 {
				t.Fatalf("%d retries logged, want 2:\n%s", len(retries), a.Log.String())
			}
			for i, r := range retries {
				if r["try"] != float64(i+2) || r["in"] != float64(int(1)<<i) || r["conn"] != "link" {
					t.Errorf("retry %d: %v", i, r)
				}
			}
			if n := len(a.Records(t, "connection not retried: its keying tries are used up", 0)); n != 1 {
				t.Errorf("%d give-up lines", n)
			}
			if n := len(a.Records(t, "", 46)); n != 3 {
				t.Errorf("%d phase 1 failures (message 46), want 3", n)
			}
		})
	})
	t.Run("forever", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, Initiate: "start",
				KeyingTries: "forever", Retransmit: "{timeout: 500ms, tries: 2}"}, stacktest.Options{Net: nw})
			time.Sleep(time.Minute)
			before := len(a.Records(t, "connection failed: retrying", 0))
			if before < 5 {
				t.Fatalf("%d retries in a minute:\n%s", before, a.Log.String())
			}
			b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: stacktest.HostA}, stacktest.Options{Net: nw})
			stacktest.Wait(t, 10*time.Minute, "established", func() bool {
				sas := b.Ctl(t, control.CmdListSAs, "").SAs
				return len(sas) == 1 && sas[0].Established
			}, a, b)
			after := len(a.Records(t, "connection failed: retrying", 0))
			time.Sleep(30 * time.Minute)
			if n := len(a.Records(t, "connection failed: retrying", 0)); n != after {
				t.Errorf("%d retries after the SA was established", n-after)
			}
			if sas := a.Ctl(t, control.CmdListSAs, "").SAs; len(sas) != 1 || !sas[0].Established {
				t.Errorf("A's SAs: %+v", sas)
			}
		})
	})
}
