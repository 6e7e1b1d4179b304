package daemon

import (
	"slices"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// unmatchedCalls records what the daemon asks of its Unmatched; the real
// one (engine/xfrm/unmatched) is TestControlFollowsPolicy's and
// TestKernelUnmatched's (interop).
type unmatchedCalls []string

func (u *unmatchedCalls) Set(on bool, _ *policymgr.Policy) error {
	if on {
		*u = append(*u, "on")
	} else {
		*u = append(*u, "off")
	}
	return nil
}

func (u *unmatchedCalls) Close() error { *u = append(*u, "close"); return nil }

// TestUnmatchedFollowsEngine: daemon.log-unmatched drives the Unmatched
// with the xfrm engine only: on at start, closed at stop; with engine
// none nothing is created.
func TestUnmatchedFollowsEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			engine string
			log    bool
			want   []string
		}{
			{"xfrm", true, []string{"on", "close"}},
			{"xfrm", false, []string{"off", "close"}},
			{"none", true, []string{"close"}},
		} {
			var u unmatchedCalls
			err, log := startWith(t, func(o *Options) {
				o.Unmatched = &u
				o.Load = func(string) (*Loaded, []notify.Message, error) {
					s := testSettings()
					s.Engine, s.LogUnmatched = tc.engine, tc.log
					return &Loaded{Settings: s}, nil, nil
				}
			})
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.engine, err, log)
			}
			if !slices.Equal(u, tc.want) {
				t.Errorf("engine %s, log-unmatched %v: calls %v, want %v", tc.engine, tc.log, u, tc.want)
			}
		}
	})
}
