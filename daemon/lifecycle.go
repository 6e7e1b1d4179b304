package daemon

import (
	"fmt"

	"go.uber.org/zap"
)

// An ISAKMP SA's life after phase 1 (DPD, NAT keepalives, its lifetime,
// INITIAL-CONTACT) and the IPsec SAs negotiated on it belong to phase1/
// and quickmode/; the loop only tells them when an SA is established and
// when it goes, and why, through Watchers. Every removal goes through
// removeSA, so a watcher sees each SA leave exactly once, whatever the
// path: a failed negotiation, half-open expiry, the peer's Delete, DPD,
// the lifetime, INITIAL-CONTACT, ikectl terminate or shutdown.

// RemoveReason says why an ISAKMP SA left the tables, so that a Watcher
// can decide what goes with it (its IPsec SAs) and the log says why.
type RemoveReason uint8

const (
	// RemoveUnspecified: the exchange did not say; the loop reads it as
	// RemoveFailed before authentication and RemovePeerDeleted after.
	RemoveUnspecified RemoveReason = iota
	// RemoveFailed: phase 1 failed or was refused before authentication.
	RemoveFailed
	// RemoveHalfOpen: a responder SA stayed unauthenticated too long.
	RemoveHalfOpen
	// RemovePeerDeleted: the peer deleted it (Delete payload, RFC 2408,
	// 3.15) or sent an error notify on it.
	RemovePeerDeleted
	// RemoveTerminated: ikectl terminate; the peer was told (Deleter).
	RemoveTerminated
	// RemoveShutdown: iked stops; the peer was told (Deleter).
	RemoveShutdown
	// RemoveDeadPeer: Dead Peer Detection gave up on the peer (RFC 3706).
	RemoveDeadPeer
	// RemoveExpired: the SA's negotiated lifetime ended (RFC 2407, 4.5);
	// the peer was told (Deleter).
	RemoveExpired
	// RemoveStale: the peer sent INITIAL-CONTACT on a newer SA (RFC 2407,
	// 4.6.3.3): it no longer has this one.
	RemoveStale
	// RemoveReauthenticated: a new ISAKMP SA with the same peer and
	// connection replaced it (reauthentication before its lifetime ends,
	// as charon's IKEv1 reauth); the peer was told with an ISAKMP-only
	// Delete (RFC 2408, 3.15) and its IPsec SAs move to the new SA.
	RemoveReauthenticated
	// RemoveRevoked: a reload removed or changed its connection, or what
	// authenticated it no longer holds (a revoked certificate); the peer
	// was told (Deleter) when it was established (revoke.go).
	RemoveRevoked
	numRemoveReasons
)

func (r RemoveReason) String() string {
	switch r {
	case RemoveUnspecified:
		return "unspecified"
	case RemoveFailed:
		return "negotiation failed"
	case RemoveHalfOpen:
		return "half-open expired"
	case RemovePeerDeleted:
		return "deleted by the peer"
	case RemoveTerminated:
		return "terminated"
	case RemoveShutdown:
		return "shutdown"
	case RemoveDeadPeer:
		return "dead peer"
	case RemoveExpired:
		return "lifetime expired"
	case RemoveStale:
		return "stale (INITIAL-CONTACT)"
	case RemoveReauthenticated:
		return "reauthenticated"
	case RemoveRevoked:
		return "revoked by reload"
	}
	return fmt.Sprintf("RemoveReason(%d)", uint8(r))
}

// Watcher follows ISAKMP SAs through their life. phase1/ registers one
// that starts DPD, NAT keepalives and the lifetime timer and wipes the
// keys of a removed SA; quickmode/ registers one that decides, by the
// RemoveReason, what becomes of the IPsec SAs of an ISAKMP SA that goes
// (removed for a dead peer or a stale SA, kept after the peer's Delete).
// All calls run on the loop.
type Watcher interface {
	// SAEstablished is called once an SA is authenticated, after the
	// Result that established it was carried out (its last message sent).
	// Its Result is carried out on the SA like an exchange's.
	SAEstablished(c *Context) Result
	// SARemoved is called as c.SA leaves the tables, with why. Its Log,
	// Engine requests, Send and Raw are carried out; anything else in it
	// is ignored. The SA's timers are already stopped.
	SARemoved(c *Context, why RemoveReason) Result
}

// Watch adds a Watcher; watchers are called in the order added. Call it
// before Start.
func (d *Daemon) Watch(w Watcher) { d.watchers = append(d.watchers, w) }

// established tells the watchers about a newly authenticated SA.
func (d *Daemon) established(sa *SA) {
	d.keyingDone(sa.Conn)
	for _, w := range d.watchers {
		if !d.alive(sa) {
			return
		}
		res := d.safeCall(sa, nil, func(c *Context) Result { return w.SAEstablished(c) })
		if res.Reject != nil {
			d.log.Debug("watcher refused an established SA", zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
			continue
		}
		d.carryOut(sa, nil, res, false)
	}
}

// removed tells the watchers that sa is gone and carries out what they
// return that still makes sense for a gone SA.
func (d *Daemon) removed(sa *SA, why RemoveReason) {
	for _, w := range d.watchers {
		res := d.safeCall(sa, nil, func(c *Context) Result { return w.SARemoved(c, why) })
		if res.Reject != nil {
			d.log.Debug("watcher refused a removed SA", zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
			continue
		}
		d.aside(sa, res)
	}
}

// aside carries out the parts of a Result that need no live SA: logs,
// engine requests, a last message to the peer.
func (d *Daemon) aside(sa *SA, res Result) {
	for _, m := range res.Log {
		d.log.Emit(m, zap.Stringer("cookies", sa.Cookies))
	}
	for _, r := range res.Engine {
		d.submit(r)
	}
	if res.Send != nil && !d.stopping() {
		d.transmit(sa, res.Send)
	}
	for _, m := range res.Also {
		if !d.stopping() {
			d.transmit(sa, m)
		}
	}
	if res.Raw != nil && !d.stopping() {
		d.transmitRaw(sa, res.Raw)
	}
}

// reasonOf is the reason for a DeleteSA an exchange asked for.
func reasonOf(sa *SA, res Result) RemoveReason {
	switch {
	case res.Why != RemoveUnspecified:
		return res.Why
	case sa.Established:
		return RemovePeerDeleted
	}
	return RemoveFailed
}

// SAs returns every ISAKMP SA in the tables, established or not, oldest
// first: what INITIAL-CONTACT looks through for stale SAs of a peer.
func (c *Context) SAs() []*SA {
	if c.d == nil {
		return nil
	}
	return c.d.allSAs()
}

// Remove forgets sa now, without telling its peer (a dead peer, a stale
// SA the peer no longer has), and tells the watchers why. It reports
// whether sa was still there.
func (c *Context) Remove(sa *SA, why RemoveReason) bool {
	if c.d == nil || !c.d.alive(sa) {
		return false
	}
	c.d.removeSA(sa, why)
	return true
}

// Terminate says goodbye for sa through the registered Deleter (the
// Delete payloads of its IPsec SAs and of itself, RFC 2408, 3.15), then
// forgets it: for an SA whose lifetime ended. It reports whether sa was
// still there.
func (c *Context) Terminate(sa *SA, why RemoveReason) bool {
	if c.d == nil || !c.d.alive(sa) {
		return false
	}
	c.d.deleteSA(sa, why)
	return true
}
