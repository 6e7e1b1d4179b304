package phase1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
)

// ISAKMP SA reauthentication: RFC 2409 has no rekeying of an ISAKMP SA,
// so before its lifetime ends (RFC 2407, 4.5) a new Main or Aggressive
// Mode with the same peer and connection replaces it, as strongSwan's
// charon reauthenticates IKEv1 (task_manager_v1.c: a new IKE_SA, the
// CHILD_SAs adopted, the old IKE_SA deleted with an ISAKMP-only Delete).
// The reauth timer fires at lifetime − margin − jitter, charon's
// rekey_time with its margin and rand_time: the SA's initiator-of-record
// takes a tenth of the lifetime (at most reauthMaxMargin) as margin and up
// to half of it as jitter, the responder half of both, so that the
// initiator normally reauthenticates first and the two sides rarely both
// do. Once the new SA is established the old one is deleted, after a
// grace (retireGrace), with an ISAKMP-only Delete, and its IPsec SAs move
// to the new one (quickmode's watcher, daemon.RemoveReauthenticated). When reauthentication fails the old
// SA expires as before (lifetimeTimer). A connection with no known peer
// address (a road warrior) does not reauthenticate: its peer does.

// TimerReauth is the per-SA timer that starts reauthentication; TimerRetire
// deletes an SA its reauthentication replaced.
const (
	TimerReauth = "phase1-reauth"
	TimerRetire = "phase1-retire"
)

// retireGrace is how long the old SA stays after its reauthentication
// before our Delete: charon, as responder, moves the CHILD_SAs to the new
// IKE_SA in a job it queues once the new one is established
// (adopt_children_job.c), and a Delete of the old IKE_SA that arrives
// before that job ran takes the CHILD_SAs with it. charon deletes the old
// IKE_SA itself 10 s later; we are earlier.
const retireGrace = 3 * time.Second

// reauthMaxMargin caps the margin, as charon's default margintime (9 min).
const reauthMaxMargin = 9 * time.Minute

// maxReauthPending bounds the reauthentications in progress; each names
// an established SA of our own policy, so this only catches a bug.
const maxReauthPending = 4096

// reauthAt returns when s should be reauthenticated (zero: never), drawing
// the jitter from c.Rand.
func reauthAt(c *daemon.Context, s *SA) time.Time {
	exp := s.Expires()
	if exp.IsZero() || s.Conn == nil || !peerAddr(s.Conn).IsValid() {
		return time.Time{}
	}
	life := s.Transform.Lifetime()
	margin := min(life/10, reauthMaxMargin)
	if s.Role == daemon.RoleResponder {
		margin /= 2
	}
	jitter := margin / 2
	if jitter > 0 && c.Rand != nil {
		var b [8]byte
		if _, err := c.Rand.Read(b[:]); err == nil {
			margin += time.Duration(binary.BigEndian.Uint64(b[:]) % uint64(jitter))
		}
	}
	if margin <= 0 {
		return time.Time{}
	}
	return exp.Add(-margin)
}

// armReauth arms the reauth timer of a newly established SA.
func (h *Life) armReauth(c *daemon.Context, s *SA) {
	if at := reauthAt(c, s); !at.IsZero() {
		c.At(TimerReauth, at, h.reauthTimer)
	}
}

// sameLink reports whether two daemon SAs are of the same connection and
// peer, as quickmode's adoption matches them.
func sameLink(a, b *daemon.SA) bool {
	return a.Conn == b.Conn && a.Remote.Addr().Unmap() == b.Remote.Addr().Unmap()
}

// newerSA returns an established SA of old's connection and peer created
// after it, or nil: the peer reauthenticated already.
func newerSA(c *daemon.Context, old *daemon.SA) *daemon.SA {
	var newer *daemon.SA
	c.EachEstablishedWith(old.Conn, old.Remote.Addr(), func(sa *daemon.SA) bool {
		if sa != old && sa.Established && sameLink(sa, old) && sa.Created.After(old.Created) &&
			(newer == nil || sa.Created.Before(newer.Created)) {
			newer = sa
		}
		return true
	})
	return newer
}

// reauthTimer starts the new phase 1 that replaces c.SA, unless the peer
// already did.
func (h *Life) reauthTimer(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil || s.Conn == nil {
		return daemon.Result{}
	}
	if n := newerSA(c, c.SA); n != nil {
		if c.Log != nil {
			c.Log.Info("not reauthenticating ISAKMP SA: a newer one with the peer exists",
				zap.Stringer("cookies", c.SA.Cookies), zap.Stringer("newer", n.Cookies))
		}
		return daemon.Result{}
	}
	h.startReauth(c, s, "reauthenticating ISAKMP SA before its lifetime ends")
	return daemon.Result{}
}

// Reauth answers `ikectl reauth` (daemon.Reauthenticator): it starts now
// the reauthentication of c.SA the reauth timer would start, or says why
// not: its connection has no peer address (a road warrior's peer
// reauthenticates), it is being reauthenticated already, or a newer SA of
// its connection and peer exists.
func (h *Life) Reauth(c *daemon.Context) error {
	s, err := phase1SA(c)
	if err != nil {
		return err
	}
	switch {
	case s.Conn == nil || !peerAddr(s.Conn).IsValid():
		return errors.New("its connection has no peer address: its peer reauthenticates it")
	case h.reauthenticating(c.SA):
		return errors.New("it is being reauthenticated already")
	}
	if n := newerSA(c, c.SA); n != nil {
		return fmt.Errorf("a newer ISAKMP SA with the peer replaces it (%s)", n.Cookies)
	}
	if !h.startReauth(c, s, "reauthenticating ISAKMP SA on request (ikectl reauth)") {
		return fmt.Errorf("%d reauthentications are in progress already", maxReauthPending)
	}
	return nil
}

// reauthenticating reports whether sa's reauthentication is under way.
func (h *Life) reauthenticating(sa *daemon.SA) bool {
	_, ok := h.reauth[sa]
	return ok
}

// startReauth initiates the phase 1 that replaces c.SA and logs why; it
// reports false when too many are in progress.
func (h *Life) startReauth(c *daemon.Context, s *SA, why string) bool {
	if h.reauth == nil {
		h.reauth = map[*daemon.SA]time.Time{}
	}
	if len(h.reauth) >= maxReauthPending {
		return false
	}
	h.reauth[c.SA] = c.Now
	if c.Log != nil {
		c.Log.Info(why,
			zap.String("conn", c.SA.Conn), zap.Stringer("cookies", c.SA.Cookies),
			zap.Stringer("peer", s.Remote), zap.Time("expires", s.Expires()))
	}
	c.Initiate(s.Conn.Name)
	return true
}

// reauthOf returns the SA that sa's establishment reauthenticates: one in
// reauthentication of the same connection and peer, created before it.
func (h *Life) reauthOf(c *daemon.Context, sa *daemon.SA) *daemon.SA {
	for old := range h.reauth {
		if old != sa && sameLink(old, sa) && old.Created.Before(sa.Created) {
			return old
		}
	}
	return nil
}

// Reauthenticates reports whether c.SA, just established as initiator, is
// the reauthentication of an older SA: Quick Mode then starts no new
// bundle on it, as the old SA's bundles move over.
func (h *Life) Reauthenticates(c *daemon.Context) bool {
	return c.SA != nil && h.reauthOf(c, c.SA) != nil
}

// reauthDone, for a newly established SA, retires the SA it
// reauthenticates: its timer, on the old SA, sends the ISAKMP-only Delete.
func (h *Life) reauthDone(c *daemon.Context) {
	old := h.reauthOf(c, c.SA)
	if old == nil {
		return
	}
	delete(h.reauth, old)
	if c.Log != nil {
		c.Log.Info("ISAKMP SA reauthenticated: the old SA's IPsec SAs move to the new one and the old SA is deleted",
			zap.String("conn", c.SA.Conn), zap.Stringer("old", old.Cookies), zap.Stringer("new", c.SA.Cookies))
	}
	// The old SA no longer expires on its own: its retirement is an
	// ISAKMP-only Delete, a moment from now (retireGrace) or at its
	// expiry if that comes first, so that its bundles are never deleted.
	oc := *c
	oc.SA = old
	oc.Cancel(TimerLifetime)
	at := c.Now.Add(retireGrace)
	if s := StateOf(old); s != nil {
		if exp := s.Expires(); !exp.IsZero() && exp.Before(at) {
			at = exp
		}
	}
	oc.At(TimerRetire, at, h.retireTimer)
}

// retireTimer deletes an SA its reauthentication replaced with an
// ISAKMP-only Delete (RFC 2408, 3.15), as charon does: its IPsec SAs live
// on under the new SA (daemon.RemoveReauthenticated).
func (h *Life) retireTimer(c *daemon.Context) daemon.Result {
	r := Deleter{Life: h}.Delete(c)
	if r.Reject != nil {
		r = daemon.Result{}
	}
	r.DeleteSA, r.Why = true, daemon.RemoveReauthenticated
	return r
}

// reauthFailed notes a removed SA: a pending reauthentication whose old SA
// went is forgotten; a negotiation of ours that failed while its
// connection and peer wait for reauthentication ends the wait, and the
// old SA expires at its lifetime.
func (h *Life) reauthFailed(c *daemon.Context) {
	if _, ok := h.reauth[c.SA]; ok {
		delete(h.reauth, c.SA)
		return
	}
	if c.SA.Established || c.SA.Role != daemon.RoleInitiator {
		return
	}
	old := h.reauthOf(c, c.SA)
	if old == nil {
		return
	}
	delete(h.reauth, old)
	if c.Log != nil {
		exp := time.Time{}
		if s := StateOf(old); s != nil {
			exp = s.Expires()
		}
		c.Log.Warn("ISAKMP SA reauthentication failed: the old SA expires at its lifetime",
			zap.String("conn", old.Conn), zap.Stringer("old", old.Cookies), zap.Time("expires", exp))
	}
}
