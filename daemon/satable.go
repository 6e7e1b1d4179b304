package daemon

import (
	"fmt"
	"io"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// newResponderSA admits a first message: policy loaded, the source's rate,
// the half-open limit; then a fresh responder cookie.
func (d *Daemon) newResponderSA(p *Packet, fk firstKey) *SA {
	dg := Datagram{Remote: p.Remote}
	if d.policy == nil {
		// A guard: the sockets open after the first policy is in force
		// and no reload leaves none (phase 1 logs 53 for a policy
		// without IKE connections).
		d.log.Emit(notify.NoPolicyLoaded())
		d.drop(DropNoPolicy, dg, nil)
		return nil
	}
	if d.handlers[p.Header.Exchange] == nil {
		d.drop(DropNoHandler, dg, fmt.Errorf("exchange %s", p.Header.Exchange))
		return nil
	}
	if d.halfOpen >= d.settings.HalfOpenMax {
		d.refuse(DropHalfOpen, p.Remote.Addr(), dg)
		return nil
	}
	now := d.clock.Now()
	src := p.Remote.Addr()
	switch d.admit.admit(src, p.Header.Exchange == isakmp.ExchangeAggressive, d.halfOpen, &d.settings, now) {
	case refuseShare:
		d.refuse(DropSourceShare, src, dg)
		return nil
	case refuseAggressive:
		d.refuse(DropDeferred, src, dg)
		return nil
	case refuseRate, refuseTable:
		d.refuse(DropRateLimit, src, dg)
		return nil
	}
	sa := &SA{
		Cookies: Cookies{I: fk.I},
		Role:    RoleResponder,
		Local:   p.Local,
		Remote:  p.Remote,
		Created: d.clock.Now(),
		first:   &fk,
		source:  src,
	}
	// Read into the SA itself: a local array would escape to the heap
	// through the io.Reader.
	r := sa.Cookies.R[:]
	for sa.Cookies.R == ([8]byte{}) {
		if _, err := io.ReadFull(d.rand, r); err != nil {
			d.log.Error("random source failed", zap.Error(err))
			return nil
		}
		if _, used := d.sas[sa.Cookies]; used {
			clear(r)
		}
	}
	d.sas[sa.Cookies] = sa
	d.firsts[fk] = sa
	d.halfOpen++
	d.admit.opened(src, &d.settings, now)
	d.armHalfOpen(sa)
	return sa
}

// leaveHalfOpen counts a responder SA out of the half-open table, as
// established or as removed (charged to its source when charge is set).
func (d *Daemon) leaveHalfOpen(sa *SA, charge bool) {
	d.halfOpen--
	sa.first = nil
	d.admit.closed(sa.source, charge, &d.settings, d.clock.Now())
	if !charge {
		d.unblock(sa.source)
	}
}

// armHalfOpen removes a responder SA that is still not authenticated after
// HalfOpenLifetime, so that spoofed first messages cannot fill the table.
func (d *Daemon) armHalfOpen(sa *SA) {
	sa.halfOpen = d.timers.after(d.settings.HalfOpenLifetime, func() {
		sa.halfOpen = nil
		if d.sas[sa.Cookies] == sa && !sa.Established {
			d.Counters.HalfOpenExpiry.Add(1)
			d.log.Debug("half-open ISAKMP SA expired", zap.Stringer("cookies", sa.Cookies), zap.Stringer("peer", sa.Remote))
			d.removeSA(sa, RemoveHalfOpen)
		}
	})
}

// removeSA forgets an SA, stops its exchanges' and its own timers, and
// tells the watchers why it went (once: a second call finds it gone).
func (d *Daemon) removeSA(sa *SA, why RemoveReason) {
	wasThere := d.alive(sa)
	for _, run := range sa.exchanges {
		run.stopTimers()
	}
	sa.exchanges = nil
	sa.stopTimers()
	if sa.halfOpen != nil {
		sa.halfOpen.Stop()
		sa.halfOpen = nil
	}
	if d.sas[sa.Cookies] == sa {
		delete(d.sas, sa.Cookies)
	}
	if sa.Role == RoleInitiator && d.byInit[sa.Cookies.I] == sa {
		delete(d.byInit, sa.Cookies.I)
	}
	if sa.first != nil && d.firsts[*sa.first] == sa {
		delete(d.firsts, *sa.first)
	}
	d.unindex(sa)
	d.initiationDone(sa)
	if sa.Role == RoleResponder && !sa.Established && sa.first != nil {
		// A failure after work (a bad KE found by our Diffie-Hellman, a
		// wrong hash) stays charged to its source (admission.go).
		d.leaveHalfOpen(sa, sa.jobs > 0 && why != RemoveHalfOpen && why != RemoveShutdown)
	}
	// The answers still to come for its exchanges: those that put
	// something into the engine stay, to be undone when they come
	// (engine.go, undo); the others are forgotten.
	sa.tokens = slices.DeleteFunc(sa.tokens, func(tok uint64) bool {
		if ref, ok := d.tokens[tok]; ok && ref.sa == sa && ref.req == nil {
			delete(d.tokens, tok)
			return true
		}
		return false
	})
	if wasThere && !sa.removed {
		sa.removed = true
		if why < numRemoveReasons {
			d.Counters.SARemoved[why].Add(1)
		}
		if sa.Established && why != RemoveShutdown {
			// Shutdown counts its SAs in one line (Stop); a failed or
			// half-open negotiation has its message 46.
			d.log.Info("ISAKMP SA removed", zap.Stringer("reason", why), zap.String("conn", sa.Conn),
				zap.Stringer("role", sa.Role), zap.Stringer("local", sa.Local), zap.Stringer("peer", sa.Remote),
				zap.Stringer("cookies", sa.Cookies), notify.EventField(notify.EventSADown))
		}
		d.removed(sa, why)
		d.keyingFailed(sa, why)
	}
}

func (d *Daemon) newMessageID(sa *SA) uint32 {
	id, err := isakmp.NewMessageID(d.rand, func(id uint32) bool {
		_, used := sa.exchanges[id]
		_, seen := sa.history.lookup(id)
		return used || seen
	})
	if err != nil {
		panic("daemon: random source failed: " + err.Error())
	}
	return id
}

// index adds an established SA to byConn under its connection and peer
// address.
func (d *Daemon) index(sa *SA) {
	d.unindex(sa)
	k := indexKey{sa.Conn, sa.Remote.Addr().Unmap()}
	peers := d.byConn[k.conn]
	if peers == nil {
		peers = map[netip.Addr]*peerSet{}
		d.byConn[k.conn] = peers
	}
	set := peers[k.peer]
	if set == nil {
		set = &peerSet{key: k, sas: map[*SA]struct{}{}}
		peers[k.peer] = set
	}
	set.sas[sa] = struct{}{}
	sa.indexed = &set.key
	d.nEstablished++
}

// reindex moves sa in byConn when an exchange changed its connection or
// peer address (phase1's result, NAT-T moving the peer).
func (d *Daemon) reindex(sa *SA) {
	if sa.indexed != nil && (sa.indexed.conn != sa.Conn || sa.indexed.peer != sa.Remote.Addr().Unmap()) {
		d.index(sa)
	}
}

// unindex takes sa out of byConn.
func (d *Daemon) unindex(sa *SA) {
	k := sa.indexed
	if k == nil {
		return
	}
	if peers := d.byConn[k.conn]; peers != nil {
		if set := peers[k.peer]; set != nil {
			delete(set.sas, sa)
			if len(set.sas) == 0 {
				delete(peers, k.peer)
			}
		}
		if len(peers) == 0 {
			delete(d.byConn, k.conn)
		}
	}
	sa.indexed = nil
	d.nEstablished--
}

// EachEstablished calls f for the established ISAKMP SAs of the
// connection, in no particular order, until f returns false. It costs
// what it visits, not a scan of every SA.
func (c *Context) EachEstablished(conn string, f func(*SA) bool) {
	if c.d == nil {
		return
	}
	for _, set := range c.d.byConn[conn] {
		for sa := range set.sas {
			if !f(sa) {
				return
			}
		}
	}
}

// EachEstablishedWith is EachEstablished for the SAs of the connection
// with one peer address.
func (c *Context) EachEstablishedWith(conn string, peer netip.Addr, f func(*SA) bool) {
	if c.d == nil {
		return
	}
	set := c.d.byConn[conn][peer.Unmap()]
	if set == nil {
		return
	}
	for sa := range set.sas {
		if !f(sa) {
			return
		}
	}
}

// EstablishedSA returns the oldest established ISAKMP SA of the
// connection, or nil. quickmode/ uses it for a kernel ACQUIRE: when the
// connection's phase 1 is up, Quick Mode starts on that SA (set c.SA to
// it, then Begin); otherwise Context.Initiate starts phase 1 first. It
// looks only at the connection's SAs (byConn), not at every SA.
func (c *Context) EstablishedSA(conn string) *SA {
	var oldest *SA
	c.EachEstablished(conn, func(sa *SA) bool {
		if c.d.alive(sa) && (oldest == nil || sa.Created.Before(oldest.Created)) {
			oldest = sa
		}
		return true
	})
	return oldest
}
