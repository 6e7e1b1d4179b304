package quickmode

import (
	"bytes"
	"net/netip"
	"slices"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/phase1"
)

// maxChildren bounds the bundles remembered per ISAKMP SA; the oldest is
// forgotten (its kernel SAs expire by their lifetimes).
const maxChildren = 256

func (rt *Manager) addChild(sa *daemon.SA, ch *Child, now time.Time) {
	list := rt.children[sa][:0:0]
	for _, old := range rt.children[sa] {
		if old.Expires.IsZero() || old.Expires.After(now) {
			list = append(list, old)
		}
	}
	if len(list) >= maxChildren {
		list = list[1:]
	}
	rt.setChildren(sa, append(list, ch))
}

// peerKey is a bundle's connection and peer. Manager.byPeer indexes the
// bundles kept by it, so that asking whether a bundle of a connection and
// peer is still kept (up), or which of them a new one replaces, does not
// walk every bundle: with one walk per Delete, a peer that deleted its
// 20,000 bundles cost iked more CPU than their 20,000 handshakes.
// Manager.bySPI indexes them by each SPI, both directions, for the
// engine's expiry events (find), which come in bursts when many bundles
// were set up together.
type peerKey struct {
	conn   string
	remote netip.Addr
}

func keyOf(ch *Child) peerKey { return peerKey{ch.Conn, ch.Remote} }

// index records that ch is kept, on sa (nil: detached).
func (rt *Manager) index(ch *Child, sa *daemon.SA) {
	if !ch.kept {
		ch.kept = true
		k := keyOf(ch)
		rt.byPeer[k] = append(rt.byPeer[k], ch)
		var buf [6]uint32
		for _, spi := range ch.appendSPIs(buf[:0]) {
			rt.bySPI[spi] = append(rt.bySPI[spi], ch)
		}
	}
	ch.owner = sa
}

// spis lists the bundle's SPIs, both directions, each once.
func (ch *Child) spis() []uint32 {
	return ch.appendSPIs(make([]uint32, 0, 2*len(ch.SAs)))
}

// appendSPIs appends the bundle's SPIs to out, both directions, each once
// (the table's callers pass an array on their stack: an allocation fewer
// per bundle indexed).
func (ch *Child) appendSPIs(out []uint32) []uint32 {
	for _, s := range ch.SAs {
		for _, spi := range [2]uint32{s.SPIIn, s.SPIOut} {
			if !slices.Contains(out, spi) {
				out = append(out, spi)
			}
		}
	}
	return out
}

// unindex records that ch is no longer kept.
func (rt *Manager) unindex(ch *Child) {
	if !ch.kept {
		return
	}
	ch.kept, ch.owner = false, nil
	k := keyOf(ch)
	list := rt.byPeer[k]
	if i := slices.Index(list, ch); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(rt.byPeer, k)
	} else {
		rt.byPeer[k] = list
	}
	var buf [6]uint32
	for _, spi := range ch.appendSPIs(buf[:0]) {
		if list := slices.DeleteFunc(rt.bySPI[spi], func(x *Child) bool { return x == ch }); len(list) == 0 {
			delete(rt.bySPI, spi)
		} else {
			rt.bySPI[spi] = list
		}
	}
}

// setChildren makes list the bundles kept on sa; nil forgets sa.
func (rt *Manager) setChildren(sa *daemon.SA, list []*Child) {
	for _, ch := range rt.children[sa] {
		if ch.owner == sa {
			rt.unindex(ch)
		}
	}
	if list == nil {
		delete(rt.children, sa)
		return
	}
	rt.children[sa] = list
	for _, ch := range list {
		rt.index(ch, sa)
	}
}

// popChildren forgets sa and returns the bundles kept on it.
func (rt *Manager) popChildren(sa *daemon.SA) []*Child {
	children := rt.children[sa]
	rt.setChildren(sa, nil)
	return children
}

// addDetached keeps children detached, forgetting the oldest beyond
// maxDetached.
func (rt *Manager) addDetached(children []*Child) {
	for _, ch := range children {
		rt.index(ch, nil)
	}
	rt.detached = append(rt.detached, children...)
	if n := len(rt.detached) - maxDetached; n > 0 {
		for _, ch := range rt.detached[:n] {
			rt.unindex(ch)
		}
		rt.detached = rt.detached[n:]
	}
}

// Children returns the bundles installed on an ISAKMP SA, oldest first.
func (rt *Manager) Children(sa *daemon.SA) []*Child { return rt.children[sa] }

// known reports whether the Manager still keeps the bundle.
func (rt *Manager) known(ch *Child) bool { return ch.kept }

// establishedFor is the newest established ISAKMP SA of the bundle's
// connection and peer, or nil: a connection that answers many peers has
// one per peer.
func establishedFor(c *daemon.Context, ch *Child) *daemon.SA {
	var to *daemon.SA
	c.EachEstablishedWith(ch.Conn, ch.Remote, func(sa *daemon.SA) bool {
		if sa.Established && belongs(ch, sa) && (to == nil || sa.Created.After(to.Created)) {
			to = sa
		}
		return true
	})
	return to
}

// replaced reports whether a newer bundle of old's connection, peer and
// traffic is installed: the peer rekeyed it.
func (rt *Manager) replaced(old *Child) bool {
	for _, ch := range rt.byPeer[keyOf(old)] {
		if ch != old && ch.Selector == old.Selector && ch.Installed.After(old.Installed) {
			return true
		}
	}
	return false
}

// each calls f for every bundle known, on an ISAKMP SA or detached.
func (rt *Manager) each(f func(*Child)) {
	for _, list := range rt.children {
		for _, ch := range list {
			f(ch)
		}
	}
	for _, ch := range rt.detached {
		f(ch)
	}
}

// find returns the bundle that holds the SA the engine names, or nil:
// the SPI in its direction (our SPIs are unique only among our inbound
// SAs, the peer's among its), or the SPI alone when the engine gave no
// destination.
func (rt *Manager) find(ref engine.SARef) *Child {
	var hit *Child
	for _, ch := range rt.bySPI[ref.SPI] {
		for _, s := range ch.SAs {
			in := s.SPIIn == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Local)
			out := s.SPIOut == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Remote)
			if engineProto(s.Protocol) == ref.Protocol && (in || out) {
				hit = ch
			}
		}
	}
	return hit
}

// drop forgets a bundle wherever it is kept.
func (rt *Manager) drop(old *Child) {
	if !old.kept {
		return
	}
	if sa := old.owner; sa != nil {
		list := rt.children[sa]
		if i := slices.Index(list, old); i >= 0 {
			rt.children[sa] = slices.Delete(slices.Clip(list), i, i+1)
		}
	} else if i := slices.Index(rt.detached, old); i >= 0 {
		rt.detached = slices.Delete(slices.Clip(rt.detached), i, i+1)
	}
	rt.unindex(old)
}

// unpend forgets gone bundles whose rekey waited for a phase 1.
func (rt *Manager) unpend(gone []*Child) {
	for conn, list := range rt.rekeyAfter {
		list = slices.DeleteFunc(list, func(ch *Child) bool { return slices.Contains(gone, ch) })
		if len(list) == 0 {
			delete(rt.rekeyAfter, conn)
		} else {
			rt.rekeyAfter[conn] = list
		}
	}
}

// deleteRequests are the engine requests that remove bundles and their
// policies.
func deleteRequests(c *daemon.Context, children []*Child) []engine.Request {
	var reqs []engine.Request
	for _, ch := range children {
		reqs = append(reqs, &engine.Delete{Token: c.Token(), SAs: ch.Refs()})
		if ps := ch.Policies(); len(ps) > 0 {
			reqs = append(reqs, &engine.RemovePolicies{Token: c.Token(), Policies: ps})
		}
	}
	return reqs
}

// takeChildren removes and returns the bundles of sa (and the detached
// ones of its peer) that the peer's deletes name: the SPIs in a Delete
// are the peer's inbound ones, our outbound (RFC 2408, 3.15).
func (rt *Manager) takeChildren(sa *daemon.SA, refs []phase1.SARef) []*Child {
	named := func(ch *Child) bool {
		for _, ref := range refs {
			if len(ref.SPI) != 4 && len(ref.SPI) != 2 {
				continue
			}
			for _, s := range ch.SAs {
				if s.Protocol == ref.Protocol && bytes.Equal(spiBytes(s.Protocol, s.SPIOut), ref.SPI) {
					return true
				}
			}
		}
		return false
	}
	var out []*Child
	for _, ch := range rt.children[sa] {
		if named(ch) {
			out = append(out, ch)
		}
	}
	for _, ch := range rt.detached {
		if belongs(ch, sa) && named(ch) {
			out = append(out, ch)
		}
	}
	for _, ch := range out {
		rt.drop(ch)
	}
	rt.unpend(out)
	return out
}
