package daemon

import (
	"time"

	"go.uber.org/zap"
)

// keying retries a connection whose phase 1 we initiated and that failed
// (no answer, refused, authentication failed), as often as its
// keying-tries allows (docs/policy-file.md; strongSwan's keyingtries),
// waiting longer each time. Whatever started the first try (`initiate:
// start`, an ACQUIRE for `initiate: on-demand`, ikectl initiate), the
// retries are the daemon's own. An ISAKMP SA of the connection that is
// established ends the series.
type keying struct {
	failures int
	timer    Timer
}

// keyingBackoff is the wait before the next try after n failures in a
// row: 1 s, doubled each failure, at most keyingBackoffMax.
func keyingBackoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < keyingBackoffMax; i++ {
		d *= 2
	}
	return min(d, keyingBackoffMax)
}

const keyingBackoffMax = 5 * time.Minute

// keyingTries returns the connection's keying-tries; 0 is forever.
func (d *Daemon) keyingTries(conn string) int {
	if d.policy == nil || d.policy.Policy == nil {
		return 1
	}
	c, ok := d.policy.Policy.Connection(conn)
	if !ok {
		return 1
	}
	return c.KeyingTries
}

// keyingFailed counts a phase 1 we initiated that ended before it was
// established, and schedules the next try if one is left.
func (d *Daemon) keyingFailed(sa *SA, why RemoveReason) {
	if sa.Role != RoleInitiator || sa.Established || why == RemoveShutdown || why == RemoveTerminated || d.stopping() {
		return
	}
	tries := d.keyingTries(sa.Conn)
	if tries == 1 {
		return
	}
	if d.keying == nil {
		d.keying = map[string]*keying{}
	}
	k := d.keying[sa.Conn]
	if k == nil {
		k = &keying{}
		d.keying[sa.Conn] = k
	}
	if k.timer != nil {
		return // a retry is already waiting
	}
	k.failures++
	if tries != 0 && k.failures >= tries {
		d.log.Warn("connection not retried: its keying tries are used up", zap.String("conn", sa.Conn),
			zap.Int("keying-tries", tries))
		delete(d.keying, sa.Conn)
		return
	}
	wait := keyingBackoff(k.failures)
	d.log.Info("connection failed: retrying", zap.String("conn", sa.Conn), zap.Stringer("reason", why),
		zap.Int("try", k.failures+1), zap.Duration("in", wait))
	conn := sa.Conn
	k.timer = d.clock.AfterFunc(wait, func() {
		d.post(func() {
			if d.keying[conn] != k {
				return
			}
			k.timer = nil
			// It waits its turn as the `initiate: start` connections do
			// (initiating.go), which pass it over if something else
			// started it meanwhile.
			d.queueStart(conn, d.peerOf(conn))
			d.startQueued()
		})
	})
}

// keyingDone ends the series of a connection whose ISAKMP SA is
// established.
func (d *Daemon) keyingDone(conn string) {
	if k := d.keying[conn]; k != nil {
		if k.timer != nil {
			k.timer.Stop()
		}
		delete(d.keying, conn)
	}
}

// stopKeying stops the waiting retries (Stop, after the loop ended).
func (d *Daemon) stopKeying() {
	for conn, k := range d.keying {
		if k.timer != nil {
			k.timer.Stop()
		}
		delete(d.keying, conn)
	}
}
