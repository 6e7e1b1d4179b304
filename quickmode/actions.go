package quickmode

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/policymgr"
)

// A connection's behaviours when its peer goes away (docs/policy-file.md,
// "Connection behaviours"), strongSwan's dpd_action and close_action:
//
//   - dpd.action, when DPD declares the peer dead (daemon.RemoveDeadPeer):
//     clear removes the SAs; hold removes them but keeps the kernel
//     policies of the IPsec SAs (held), so that the next packet they
//     match is an ACQUIRE (initiate.go) that negotiates the connection
//     again; restart initiates the connection again at once, and the
//     daemon's keying-tries retry it when that fails.
//   - close-action, when the peer deletes the connection's last IPsec SA
//     (informational.go) or its ISAKMP SA with no IPsec SA left
//     (watch.go): none and clear change nothing; hold keeps the deleted
//     SAs' policies as for DPD; restart starts Quick Mode on the ISAKMP
//     SA after closeGrace (a peer that rekeys may delete the old SA
//     before our new one is installed), or phase 1 when the ISAKMP SA is
//     gone too.
//
// The held policies of a connection are removed just after the next
// kernel policies of that connection are installed (Manager.result): the
// new ones replace them in place; an on-demand connection's trap policies stay
// in the kernel anyway, and its IPsec SAs carry none of their own.

// TimerCloseAction is the per-SA timer of a close-action restart.
const TimerCloseAction = "quickmode-close-action"

// closeGrace is how long a close-action restart waits after the peer
// deleted the connection's last IPsec SA, for the bundle the peer's own
// rekey installs (as daemon/observe.go's rekeyGrace waits for the updown
// script).
const closeGrace = 2 * time.Second

// connection returns the running policy's connection of that name, or nil.
func connection(c *daemon.Context, name string) *policymgr.Connection {
	if c.Policy == nil {
		return nil
	}
	conn, ok := c.Policy.Connection(name)
	if !ok {
		return nil
	}
	return conn
}

// up reports whether a bundle of the connection with that peer is still
// kept, on an ISAKMP SA or detached.
func (rt *Manager) up(conn string, peer netip.Addr) bool {
	return len(rt.byPeer[peerKey{conn, peer}]) > 0
}

// removeOrHold returns the engine requests that remove gone bundles: all
// of them with their policies, or, with hold, their SAs only, their
// policies kept as the connection's held policies.
func (rt *Manager) removeOrHold(c *daemon.Context, gone []*Child, hold bool) []engine.Request {
	if !hold {
		return deleteRequests(c, gone)
	}
	var reqs []engine.Request
	for _, ch := range gone {
		reqs = append(reqs, &engine.Delete{Token: c.Token(), SAs: ch.Refs()})
		for _, p := range ch.Policies() {
			if !heldAlready(rt.held[ch.Conn], p) {
				rt.held[ch.Conn] = append(rt.held[ch.Conn], p)
			}
		}
	}
	return reqs
}

func heldAlready(ps []engine.Policy, p engine.Policy) bool {
	for _, q := range ps {
		if q.Dir == p.Dir && q.Selector == p.Selector {
			return true
		}
	}
	return false
}

// releaseHeld puts the removal of the connection's held policies just
// after the first kernel policies a new bundle of it installs (reqs are
// an exchange's engine requests): the engines stack policies of the same
// selectors, so the new ones take over in place and the selectors are
// never without a policy (make-before-break).
func (rt *Manager) releaseHeld(c *daemon.Context, conn string, reqs []engine.Request) []engine.Request {
	held := rt.held[conn]
	if len(held) == 0 {
		return reqs
	}
	for i, r := range reqs {
		if _, ok := r.(*engine.InstallPolicies); ok {
			delete(rt.held, conn)
			out := append(reqs[:i+1:i+1], &engine.RemovePolicies{Token: c.Token(), Policies: held})
			return append(out, reqs[i+1:]...)
		}
	}
	return reqs
}

// deadPeer removes the bundles of an ISAKMP SA whose peer DPD declared
// dead, as the connection's dpd.action says, and restarts it when that
// says so.
func (rt *Manager) deadPeer(c *daemon.Context, sa *daemon.SA, children []*Child) []engine.Request {
	action := policymgr.ActionClear
	if conn := connection(c, sa.Conn); conn != nil {
		action = conn.DPD.Action
	}
	reqs := rt.removeOrHold(c, children, action == policymgr.ActionHold)
	if action == policymgr.ActionClear {
		return reqs
	}
	if c.Log != nil {
		c.Log.Info("peer dead: dpd action", zap.String("conn", sa.Conn), zap.Stringer("action", action),
			zap.Stringer("peer", sa.Remote), zap.Int("held-policies", len(rt.held[sa.Conn])))
	}
	if action == policymgr.ActionRestart {
		c.Initiate(sa.Conn)
	}
	return reqs
}

// peerClosed removes the bundles the peer deleted on c.SA and runs the
// close-action of a connection whose last bundle with this peer went.
func (rt *Manager) peerClosed(c *daemon.Context, gone []*Child) []engine.Request {
	var reqs []engine.Request
	for _, ch := range gone {
		action := policymgr.ActionNone
		if conn := connection(c, ch.Conn); conn != nil {
			action = conn.CloseAction
		}
		// A Quick Mode under way on the SA is most likely the peer's
		// rekey, whose Delete of the old bundle came before the new one
		// was installed: no close.
		last := !rt.up(ch.Conn, ch.Remote) && len(rt.responding[c.SA]) == 0 && len(rt.initiating[c.SA]) == 0
		reqs = append(reqs, rt.removeOrHold(c, []*Child{ch}, last && action == policymgr.ActionHold)...)
		if !last {
			continue
		}
		switch {
		case action == policymgr.ActionHold:
			closeLog(c, ch.Conn, action, ch.Remote, "ipsec-sa")
		case action == policymgr.ActionRestart && c.SA != nil && c.SA.Established && c.SA.Conn == ch.Conn:
			c.At(TimerCloseAction, c.Now.Add(closeGrace), rt.closeRestart)
		}
	}
	return reqs
}

// closeLog says that a close-action runs.
func closeLog(c *daemon.Context, conn string, action policymgr.Action, peer netip.Addr, deleted string) {
	if c.Log != nil {
		c.Log.Info("peer closed the connection: close-action", zap.String("conn", conn), zap.Stringer("action", action),
			zap.Stringer("peer", peer), zap.String("deleted", deleted))
	}
}

// closeRestart starts Quick Mode for the connection of c.SA again, unless
// a bundle of it came meanwhile (the peer's rekey) or a Quick Mode is
// still under way on the SA (then it looks again later).
func (rt *Manager) closeRestart(c *daemon.Context) daemon.Result {
	sa := c.SA
	if rt.up(sa.Conn, sa.Remote.Addr().Unmap()) {
		return daemon.Result{}
	}
	if len(rt.initiating[sa]) > 0 || len(rt.responding[sa]) > 0 {
		c.At(TimerCloseAction, c.Now.Add(closeGrace), rt.closeRestart)
		return daemon.Result{}
	}
	closeLog(c, sa.Conn, policymgr.ActionRestart, sa.Remote.Addr().Unmap(), "ipsec-sa")
	return daemon.Result{Log: rt.begin(c, sa.Conn)}
}

// isakmpClosed runs the close-action of a connection whose ISAKMP SA the
// peer deleted with no bundle of the connection and peer left (watch.go):
// restart negotiates again, on another established ISAKMP SA of the
// connection and peer if there is one, else from phase 1.
func (rt *Manager) isakmpClosed(c *daemon.Context, sa *daemon.SA) {
	conn := connection(c, sa.Conn)
	if conn == nil || !sa.Established || rt.up(sa.Conn, sa.Remote.Addr().Unmap()) {
		return
	}
	if conn.CloseAction != policymgr.ActionHold && conn.CloseAction != policymgr.ActionRestart {
		return
	}
	closeLog(c, sa.Conn, conn.CloseAction, sa.Remote.Addr().Unmap(), "isakmp-sa")
	if conn.CloseAction != policymgr.ActionRestart {
		return // hold: the policies the peer's IPsec SA deletes left, or the trap policies, stay
	}
	if other := adopter(c, sa); other != nil {
		c.SA = other
		if l := rt.begin(c, sa.Conn); c.Log != nil {
			for _, m := range l {
				c.Log.Emit(m)
			}
		}
		return
	}
	c.Initiate(sa.Conn)
}
