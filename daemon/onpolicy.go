package daemon

import (
	"go.uber.org/zap"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// OnPolicy registers f, told of each policy put in force: at Start, after
// the policy is read and before the engine opens (an error then fails the
// start), and on the loop after each reload that applied (an error is
// logged; the new policy stays). Mode Config's lease store opens and
// takes its pools this way (stack.Register). Call it before Start.
func (d *Daemon) OnPolicy(f func(*policymgr.Policy) error) { d.onPolicy = append(d.onPolicy, f) }

// OnStop registers f, run at the end of Stop once every SA is gone (the
// lease store closes its file this way). Call it before Start.
func (d *Daemon) OnStop(f func()) { d.onStop = append(d.onStop, f) }

// Log returns the daemon's logger.
func (d *Daemon) Log() *notify.Logger { return d.log }

// policyInForce tells the OnPolicy functions about p; the first error is
// returned after every function ran.
func (d *Daemon) policyInForce(p *policymgr.Policy) error {
	var first error
	for _, f := range d.onPolicy {
		if err := f(p); err != nil {
			d.log.Error("policy not taken by a part of the daemon", zap.Error(err))
			if first == nil {
				first = err
			}
		}
	}
	return first
}
