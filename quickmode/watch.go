package quickmode

import (
	"slices"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/notify"
)

// What happens to the IPsec SAs when their ISAKMP SA goes depends on why
// it goes (RFC 2409 lets the two phases live apart; strongSwan's charon
// decides per reason, and a strongSwan user expects the same here):
//
//   - dead peer (RFC 3706): removed from the engine at once, as charon's
//     dpd_action=clear closes the CHILD_SAs; the peer is gone.
//   - stale after INITIAL-CONTACT (RFC 2407, 4.6.3.3): removed from the
//     engine; the peer rebooted and no longer has them (charon deletes the
//     old IKE_SA with its CHILD_SAs).
//   - the peer's Delete of the ISAKMP SA (RFC 2408, 3.15): kept. charon
//     sends Deletes for its CHILD_SAs first when it tears a connection
//     down (those remove ours one by one, message 62), so an ISAKMP
//     Delete alone comes when its children live on elsewhere: after an
//     IKEv1 reauthentication charon moves them to the new IKE_SA
//     (adopt_children) and deletes the old one. Removing them then would
//     cut the traffic. So they move to the newest other established
//     ISAKMP SA of their connection and peer, like charon's adoption, or
//     stay detached (listed by ikectl, rekeyed, adopted by the next ISAKMP
//     SA of their connection and peer) until their lifetimes end. Peers
//     that keep IPsec SAs past their ISAKMP SA (racoon, Cisco) want that
//     too.
//   - reauthenticated (phase1's reauth): kept and moved to the new
//     ISAKMP SA that replaced it, just as after the peer's Delete; our
//     Delete to the peer named only the ISAKMP SA.
//   - ikectl terminate, shutdown, the ISAKMP SA's lifetime: the Deleter
//     already deleted them with the peer told.
//
// Either way the Manager forgets its per-SA tables, so nothing is kept
// for a gone SA.

// maxDetached bounds the detached bundles; the oldest is forgotten (its
// kernel SAs still expire by their lifetimes).
const maxDetached = 1024

// SAEstablished adopts the detached bundles of the new ISAKMP SA's
// connection and peer (daemon.Watcher), so that they are listed,
// rekeyed and deleted with it.
func (rt *Manager) SAEstablished(c *daemon.Context) daemon.Result {
	sa := c.SA
	if sa == nil || len(rt.detached) == 0 {
		return daemon.Result{}
	}
	if adopted := rt.takeDetached(func(ch *Child) bool { return belongs(ch, sa) }); len(adopted) > 0 {
		rt.setChildren(sa, append(rt.children[sa], adopted...))
	}
	return daemon.Result{}
}

// SARemoved acts on the IPsec SAs of an ISAKMP SA that went, according
// to why (see above), and forgets the Manager's tables of it
// (daemon.Watcher).
func (rt *Manager) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	abandoned := rt.abandonInstalls(c, c.SA)
	r := rt.removeChildren(c, why)
	if len(abandoned) > 0 {
		r.Engine = append(abandoned, r.Engine...)
	}
	return r
}

// removeChildren is SARemoved for the bundles installed on c.SA.
func (rt *Manager) removeChildren(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	sa := c.SA
	children := rt.popChildren(sa)
	for _, x := range rt.initiating[sa] {
		x.wipe() // its PFS key dies with the ISAKMP SA
	}
	delete(rt.initiating, sa)
	delete(rt.responding, sa)
	delete(rt.gated, sa)
	for _, d := range rt.later[sa] {
		d.ch.deferred = false
	}
	delete(rt.later, sa)
	switch why {
	case daemon.RemoveDeadPeer, daemon.RemoveStale:
		// The peer's other bundles, detached earlier, are as dead.
		children = append(children, rt.takeDetached(func(ch *Child) bool { return belongs(ch, sa) })...)
		rt.unpend(children)
		if c.Log != nil {
			for _, ch := range children {
				c.Log.Info("IPsec SA removed with its ISAKMP SA", zap.String("conn", ch.Conn),
					zap.String("spis", spiText(ch)), zap.Stringer("reason", why), notify.EventField(notify.EventIPsecDown))
			}
		}
		if why == daemon.RemoveDeadPeer {
			// dpd.action (actions.go).
			return daemon.Result{Engine: rt.deadPeer(c, sa, children)}
		}
		if len(children) == 0 {
			return daemon.Result{}
		}
		return daemon.Result{Engine: deleteRequests(c, children)}
	case daemon.RemovePeerDeleted, daemon.RemoveReauthenticated:
		if len(children) == 0 {
			if why == daemon.RemovePeerDeleted {
				rt.isakmpClosed(c, sa) // close-action (actions.go)
			}
			return daemon.Result{}
		}
		if to := adopter(c, sa); to != nil {
			rt.setChildren(to, append(rt.children[to], children...))
			return daemon.Result{}
		}
		rt.addDetached(children)
		return daemon.Result{}
	}
	// Terminated, shut down or expired: the Deleter took them already
	// (peer told); what is left here had no Deleter, so the engine
	// removes it without a word to the peer.
	if len(children) == 0 {
		return daemon.Result{}
	}
	rt.unpend(children)
	logGone(c.Log, children, "removed with its ISAKMP SA")
	return daemon.Result{Engine: deleteRequests(c, children)}
}

// belongs reports whether a bundle is of the ISAKMP SA's connection and
// peer: the connection name alone is not enough for a road-warrior
// connection that answers many peers.
func belongs(ch *Child, sa *daemon.SA) bool {
	if ch.Conn != sa.Conn || ch.Remote != sa.Remote.Addr().Unmap() {
		return false
	}
	// Transport-mode clients behind one NAT share its address; their
	// NAT ports tell them apart (nattransport.go), so that one client's
	// bundles are never adopted by, listed under or removed with
	// another's ISAKMP SA.
	return !natMappedChild(ch) || ch.Encap.RemotePort == sa.Remote.Port()
}

// adopter is the newest other established ISAKMP SA of gone's connection
// and peer, or nil. It looks only at those (Context.EachEstablishedWith,
// an index): a peer deleting many SAs at once would otherwise scan every
// SA for each.
func adopter(c *daemon.Context, gone *daemon.SA) *daemon.SA {
	var to *daemon.SA
	c.EachEstablishedWith(gone.Conn, gone.Remote.Addr(), func(sa *daemon.SA) bool {
		if sa != gone && sa.Established && (to == nil || sa.Created.After(to.Created)) {
			to = sa
		}
		return true
	})
	return to
}

// ConnectionsRevoked removes the detached bundles of connections a reload
// removed or changed (daemon.ReloadWatcher): their ISAKMP SA is gone, so
// no Delete can tell the peer, but the policy no longer allows them. The
// bundles of live ISAKMP SAs go with those SAs (the daemon deletes them
// through the Deleter).
func (rt *Manager) ConnectionsRevoked(c *daemon.Context, conns []string) daemon.Result {
	gone := rt.takeDetached(func(ch *Child) bool { return slices.Contains(conns, ch.Conn) })
	if len(gone) == 0 {
		return daemon.Result{}
	}
	rt.unpend(gone)
	logGone(c.Log, gone, "its connection was removed or changed by a reload")
	return daemon.Result{Engine: deleteRequests(c, gone)}
}

// takeDetached removes and returns the detached bundles that match.
func (rt *Manager) takeDetached(match func(*Child) bool) []*Child {
	var out []*Child
	keep := rt.detached[:0:0]
	for _, ch := range rt.detached {
		if match(ch) {
			rt.unindex(ch)
			out = append(out, ch)
		} else {
			keep = append(keep, ch)
		}
	}
	rt.detached = keep
	return out
}
