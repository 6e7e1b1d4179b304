package daemon

import (
	"go.uber.org/zap"

	"github.com/iked/iked/policymgr"
)

// Unmatched drops the packets of the policy's protected ranges that
// arrive without IPsec and logs them as message 7, when the policy sets
// daemon.log-unmatched (engine/xfrm/unmatched's Control; cmd/iked wires
// it). It is used with the xfrm engine only.
type Unmatched interface {
	// Set puts p's protected ranges in force when on, removes them when off.
	Set(on bool, p *policymgr.Policy) error
	Close() error
}

// applyUnmatched follows the running policy's log-unmatched. A failure
// is a warning: the daemon runs on without it.
func (d *Daemon) applyUnmatched() {
	if d.opt.Unmatched == nil || d.settings.Engine != "xfrm" || d.policy == nil {
		return
	}
	if err := d.opt.Unmatched.Set(d.settings.LogUnmatched, d.policy.Policy); err != nil {
		d.log.Warn("cannot drop and log unmatched packets (daemon.log-unmatched)", zap.Error(err))
	}
}

// closeUnmatched removes the table at stop.
func (d *Daemon) closeUnmatched() {
	if d.opt.Unmatched == nil {
		return
	}
	if err := d.opt.Unmatched.Close(); err != nil {
		d.log.Warn("cannot remove the unmatched packets' table", zap.Error(err))
	}
}
