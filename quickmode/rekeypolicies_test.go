package quickmode_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/stack/stacktest"
)

// policyWatch follows one node's policies in force through every change
// the engine makes: once the connection's out and in policies are up,
// each later change must leave them up (make-before-break across rekeys).
type policyWatch struct {
	mu      sync.Mutex
	armed   bool // the connection came up; not yet stopping
	changes int
	gaps    []string
}

func (w *policyWatch) see(ps []engine.Policy) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out, in bool
	for _, p := range ps {
		out = out || p.Dir == engine.DirOut
		in = in || p.Dir == engine.DirIn
	}
	switch {
	case out && in && !w.armed && w.changes == 0:
		w.armed = true
	case w.armed && !(out && in):
		w.gaps = append(w.gaps, fmt.Sprintf("change %d left %v", w.changes, ps))
	}
	if w.armed {
		w.changes++
	}
}

func (w *policyWatch) stop() (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	return w.changes, w.gaps
}

// TestRekeyKeepsPolicies: a connection without trap policies (initiate
// never: its bundles install their own) is rekeyed several times, once
// with the Quick Mode initiator rekeying (its soft lifetime comes first)
// and once with the responder (its rekey margin is larger); on both
// hosts the kernel policies stay in force at every change the engine
// makes, and after the last rekey each host holds one bundle and its two
// policies. Before the engines stacked policies per selector, the new
// bundle's policies failed with "exists" and the old bundle's deletion
// took the shared ones out: no policy after the first rekey.
func TestRekeyKeepsPolicies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		marginB   string
		rekeyedBy int // 0: A, the first Quick Mode's initiator; 1: B
	}{
		{"initiator rekeys", "", 0},
		{"responder rekeys", "{margin: 15s}", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				var wa, wb policyWatch
				pa := stacktest.Policy{Phase2LifetimeMin: "1s", Lifetime: "30s"}
				pb := pa
				pb.Rekey = tc.marginB
				a, b := stacktest.Pair(t, pa, stacktest.Options{Net: nw, Engine: memory.Options{Watch: wa.see}},
					pb, stacktest.Options{Net: nw, Engine: memory.Options{Watch: wb.see}})
				a.Ctl(t, control.CmdInitiate, "link")
				a.WaitSAs(t, 2, 10*time.Second)
				b.WaitSAs(t, 2, 10*time.Second)
				time.Sleep(100 * time.Second)
				nodes := []*stacktest.Node{a, b}
				for i, w := range []*policyWatch{&wa, &wb} {
					n := nodes[i]
					changes, gaps := w.stop()
					if len(gaps) > 0 {
						t.Errorf("host %c: the connection was without policies: %v\n%s", 'A'+i, gaps, n.Log.String())
					}
					rekeys := len(n.Records(t, "IPsec SA rekeyed: the old bundle is deleted", 0))
					if want := i == tc.rekeyedBy; want && rekeys < 3 || !want && rekeys != 0 {
						t.Errorf("host %c rekeyed %d times", 'A'+i, rekeys)
					}
					if changes < 6 {
						t.Errorf("host %c: %d policy changes while up, want one install and one removal per rekey", 'A'+i, changes)
					}
					if sas, ps := len(n.Engine.SAs()), n.Engine.Policies(); sas != 2 || len(ps) != 2 {
						t.Errorf("host %c holds %d SAs and policies %v, want one bundle and its out and in policies", 'A'+i, sas, ps)
					}
					if w := n.Records(t, "kernel policies of a Quick Mode SA not installed; the SAs are removed", 0); len(w) > 0 {
						t.Errorf("host %c: %v", 'A'+i, w)
					}
				}
			})
		})
	}
}
