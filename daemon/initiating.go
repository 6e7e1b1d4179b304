package daemon

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// initiations paces the phase 1 exchanges this host initiates on its own:
// the connections marked `initiate: start` (at start-up and after a
// reload) and the keying retries (keying.go). They wait in a queue, one
// per peer address, and begin while fewer than daemon.initiate-max of our
// phase 1 initiations are unfinished in all and fewer than
// daemon.initiate-per-peer with their peer (docs/policy-file.md). Without
// it, ten thousand connections would send ten thousand first messages at
// once: the peer refuses what is over its half-open limits (strongSwan's
// charon.block_threshold, five per address by default), our own loop
// queue overflows with the answers, and the retransmissions that follow
// make it worse. Every initiation counts towards the limits while it is
// unfinished, ikectl's and the kernel's (on-demand) too, but only the
// queued ones wait.
type initiations struct {
	waiting  map[netip.Addr][]string // connections queued, by peer address
	order    []netip.Addr            // peers with queued connections, served in turn
	queued   map[string]bool
	inFlight int                // our phase 1 initiations not yet established
	perPeer  map[netip.Addr]int // the same by peer address
	byConn   map[string]int     // the same by connection
	kicked   bool               // a startQueued is on its way to the loop
}

// queueStart queues conn, whose peer is peer (its remote-gw), to be
// initiated when the limits allow; it returns false when it was queued
// already.
func (d *Daemon) queueStart(conn string, peer netip.Addr) bool {
	s := &d.starts
	if s.queued[conn] {
		return false
	}
	if s.queued == nil {
		s.queued = map[string]bool{}
		s.waiting = map[netip.Addr][]string{}
	}
	s.queued[conn] = true
	if len(s.waiting[peer]) == 0 {
		s.order = append(s.order, peer)
	}
	s.waiting[peer] = append(s.waiting[peer], conn)
	return true
}

// startQueued initiates queued connections while the limits allow. A
// connection that is up or being negotiated meanwhile (by the peer, ikectl
// or an ACQUIRE), or that a reload removed, is passed over.
func (d *Daemon) startQueued() {
	s := &d.starts
	s.kicked = false
	perPeer := d.settings.InitiatePerPeer
	// Each peer in turn, once round: a peer at its own limit goes to the
	// back and the next is tried.
	for n := len(s.order); n > 0 && s.inFlight < d.settings.InitiateMax; n-- {
		peer := s.order[0]
		s.order = s.order[1:]
		q := s.waiting[peer]
		for len(q) > 0 && s.inFlight < d.settings.InitiateMax && (!peer.IsValid() || s.perPeer[peer] < perPeer) {
			conn := q[0]
			q = q[1:]
			delete(s.queued, conn)
			if !d.hasConn(conn) || d.connBusy(conn) {
				continue
			}
			if err := d.initiate(conn); err != nil {
				d.log.Warn("cannot initiate connection", zap.String("conn", conn), zap.Error(err))
				delete(d.keying, conn)
			}
		}
		if len(q) == 0 {
			delete(s.waiting, peer)
			continue
		}
		s.waiting[peer] = q
		s.order = append(s.order, peer)
	}
}

// kickStarts has startQueued run on the loop soon, once, when connections
// wait: an initiation just finished and made room. It runs from a timer
// rather than at once, since the caller is in the middle of changing the
// SA tables.
func (d *Daemon) kickStarts() {
	s := &d.starts
	if s.kicked || len(s.order) == 0 || d.stopping() {
		return
	}
	s.kicked = true
	d.clock.AfterFunc(time.Duration(0), func() {
		if !d.post(d.startQueued) {
			s.kicked = false
		}
	})
}

// countInitiation counts sa, a phase 1 we just initiated to peer, towards
// the limits until it is established or removed (initiationDone).
func (d *Daemon) countInitiation(sa *SA, peer netip.Addr) {
	s := &d.starts
	if s.perPeer == nil {
		s.perPeer = map[netip.Addr]int{}
		s.byConn = map[string]int{}
	}
	sa.initiating = true
	sa.initPeer = peer
	s.inFlight++
	s.perPeer[peer]++
	s.byConn[sa.Conn]++
}

// initiationDone ends what countInitiation counted, and lets a waiting
// connection begin.
func (d *Daemon) initiationDone(sa *SA) {
	if !sa.initiating {
		return
	}
	s := &d.starts
	sa.initiating = false
	s.inFlight--
	if s.perPeer[sa.initPeer]--; s.perPeer[sa.initPeer] <= 0 {
		delete(s.perPeer, sa.initPeer)
	}
	if s.byConn[sa.Conn]--; s.byConn[sa.Conn] <= 0 {
		delete(s.byConn, sa.Conn)
	}
	d.kickStarts()
}

// connBusy reports whether the connection has an established ISAKMP SA or
// a phase 1 we initiate under way.
func (d *Daemon) connBusy(conn string) bool {
	return len(d.byConn[conn]) > 0 || d.starts.byConn[conn] > 0
}

// hasConn reports whether the running policy has the connection.
func (d *Daemon) hasConn(conn string) bool {
	if d.policy == nil {
		return false
	}
	if d.policy.Policy != nil {
		_, ok := d.policy.Policy.Connection(conn)
		return ok
	}
	for _, c := range d.policy.Conns {
		if c.Name == conn {
			return true
		}
	}
	return false
}

// peerOf is the connection's peer address by which its initiations are
// counted: its remote-gw, or in transport mode its remote host (as
// phase1/policy.go's peerAddr); the zero Addr when it has none.
func (d *Daemon) peerOf(conn string) netip.Addr {
	if d.policy == nil || d.policy.Policy == nil {
		return netip.Addr{}
	}
	c, ok := d.policy.Policy.Connection(conn)
	switch {
	case !ok:
		return netip.Addr{}
	case c.RemoteGW.IsValid():
		return c.RemoteGW.Unmap()
	case !c.Tunnel && c.Remote.Addr.IsHost():
		return c.Remote.Addr.From.Unmap()
	}
	return netip.Addr{}
}
