package phase1

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
)

// Reauthentication (reauth.go) inside real daemon loops in virtual time,
// phase 1 alone: an ISAKMP SA of 10 min.

// TestLifeReauthReplacesSA: in both modes A, the initiator, starts a new
// phase 1 between 8.5 and 9 min; once it is up A deletes the old SA
// (reason reauthenticated, after retireGrace) and B acts on the Delete;
// each side then holds exactly the new SA, which carried no
// INITIAL-CONTACT (that would make B drop A's other SAs). B never starts
// one of its own.
func TestLifeReauthReplacesSA(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			pa, pb := lifePolicies(t, mode, "", "10m", false)
			synctest.Test(t, func(t *testing.T) {
				nw := &daemontest.Net{}
				a, b := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
				old := a.rec.established()[0]
				time.Sleep(8*time.Minute + 29*time.Second)
				if len(a.rec.established()) != 1 {
					t.Fatalf("A reauthenticated before 8.5 min:\n%s", a.log.String())
				}
				time.Sleep(40 * time.Second)
				est := a.rec.established()
				if len(est) != 2 || len(b.rec.established()) != 2 {
					t.Fatalf("after 9 min: A established %v, B %v\nA:\n%s", est, b.rec.established(), a.log.String())
				}
				nu := est[1]
				if why, _, gone := a.rec.reason(old); !gone || why != daemon.RemoveReauthenticated {
					t.Errorf("A: old SA gone=%v reason %v, want reauthenticated", gone, why)
				}
				if why, _, gone := b.rec.reason(old); !gone || why != daemon.RemovePeerDeleted {
					t.Errorf("B: old SA gone=%v reason %v, want deleted by the peer", gone, why)
				}
				for name, n := range map[string]*node{"A": a, "B": b} {
					if _, _, gone := n.rec.reason(nu); gone {
						t.Errorf("%s removed the new SA", name)
					}
					if n.rec.ic[nu] {
						t.Errorf("%s: the reauthenticating phase 1 carried INITIAL-CONTACT", name)
					}
				}
				if strings.Contains(b.log.String(), "reauthenticating ISAKMP SA") {
					t.Errorf("B reauthenticated too:\n%s", b.log.String())
				}
				if !strings.Contains(a.log.String(), "ISAKMP SA reauthenticated") {
					t.Errorf("A's log does not say the SA was reauthenticated:\n%s", a.log.String())
				}
			})
		})
	}
}

// TestLifeRoadWarriorDoesNotReauth: B answers A as a road warrior (no
// known peer address) and A does not run its timers here: B does not
// reauthenticate, and its SA ends at the lifetime with a Delete.
func TestLifeRoadWarriorDoesNotReauth(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "", "10m", true)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		_, b := upPair(t, nw, pa, pb, nodeOpts{noWatch: true}, nodeOpts{})
		sa := b.rec.established()[0]
		time.Sleep(10*time.Minute + 5*time.Second)
		if strings.Contains(b.log.String(), "reauthenticating") {
			t.Errorf("the road warrior responder reauthenticated:\n%s", b.log.String())
		}
		if why, _, gone := b.rec.reason(sa); !gone || why != daemon.RemoveExpired {
			t.Errorf("B: gone=%v reason %v, want lifetime expired\n%s", gone, why, b.log.String())
		}
		if len(b.rec.established()) != 1 {
			t.Errorf("B established %v", b.rec.established())
		}
	})
}
