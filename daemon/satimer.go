package daemon

import (
	"time"

	"go.uber.org/zap"
)

// Per-SA timers: DPD probes, NAT keepalives and the ISAKMP SA's lifetime
// are each a time at which phase 1 wants to act on one SA. The loop keeps
// them on the SA, runs them on the injected Clock (virtual in tests) and
// posts their firing to itself like any other event, so the callback runs
// on the loop with the SA's Context. Removing the SA stops them all.

// TimerFunc is what a per-SA timer runs, on the loop, with c.SA set. Its
// Result is carried out as an exchange's would be: Send and Raw go to the
// SA's peer, DeleteSA (with Why) removes the SA. It may re-arm itself with
// c.At.
type TimerFunc func(c *Context) Result

// saTimer is one armed timer of an SA.
type saTimer struct {
	at    time.Time
	f     TimerFunc
	timer Timer
}

// maxTimersPerSA bounds the named timers one SA may hold; the names come
// from our own code, never from the network, so this only catches a bug.
const maxTimersPerSA = 16

// At arms the timer named key on c.SA to run f at t (at once if t has
// passed), replacing a timer of the same name. It does nothing on an SA
// that is no longer in the tables.
func (c *Context) At(key string, t time.Time, f TimerFunc) {
	sa := c.SA
	d := c.d
	if d == nil || sa == nil || f == nil || !d.alive(sa) {
		return
	}
	if old := sa.timers[key]; old != nil {
		old.timer.Stop()
	} else if len(sa.timers) >= maxTimersPerSA {
		d.log.Error("too many timers on an SA; timer not armed", zap.String("timer", key), zap.Stringer("cookies", sa.Cookies))
		return
	}
	if sa.timers == nil {
		sa.timers = map[string]*saTimer{}
	}
	st := &saTimer{at: t, f: f}
	delay := t.Sub(d.clock.Now())
	if delay < 0 {
		delay = 0
	}
	st.timer = d.clock.AfterFunc(delay, func() { d.post(func() { d.fire(sa, key, st) }) })
	sa.timers[key] = st
}

// Cancel stops the timer named key on c.SA, if armed.
func (c *Context) Cancel(key string) {
	if c.SA == nil {
		return
	}
	if st := c.SA.timers[key]; st != nil {
		st.timer.Stop()
		delete(c.SA.timers, key)
	}
}

// TimerAt returns when the timer named key on c.SA fires (zero: not
// armed), for tests and ikectl.
func (c *Context) TimerAt(key string) time.Time {
	if c.SA == nil {
		return time.Time{}
	}
	if st := c.SA.timers[key]; st != nil {
		return st.at
	}
	return time.Time{}
}

// fire runs a timer that went off, unless it was replaced, cancelled or
// its SA removed meanwhile.
func (d *Daemon) fire(sa *SA, key string, st *saTimer) {
	if !d.alive(sa) || sa.timers[key] != st {
		return
	}
	delete(sa.timers, key)
	d.Counters.Timers.Add(1)
	res := d.safeCall(sa, nil, func(c *Context) Result { return st.f(c) })
	if res.Reject != nil {
		d.log.Debug("SA timer refused", zap.String("timer", key), zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
		return
	}
	if !d.alive(sa) {
		d.aside(sa, res)
		return
	}
	d.carryOut(sa, nil, res, false)
}

// stopTimers stops every per-SA timer of sa.
func (sa *SA) stopTimers() {
	for k, st := range sa.timers {
		st.timer.Stop()
		delete(sa.timers, k)
	}
}
