package quickmode

import (
	"bytes"
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
	rt.children[sa] = append(list, ch)
}

// Children returns the bundles installed on an ISAKMP SA, oldest first.
func (rt *Manager) Children(sa *daemon.SA) []*Child { return rt.children[sa] }

// known reports whether the Manager still keeps the bundle.
func (rt *Manager) known(ch *Child) bool {
	found := false
	rt.each(func(x *Child) { found = found || x == ch })
	return found
}

// establishedFor is the newest established ISAKMP SA of the bundle's
// connection and peer, or nil: a connection that answers many peers has
// one per peer.
func establishedFor(c *daemon.Context, ch *Child) *daemon.SA {
	var to *daemon.SA
	for _, sa := range c.SAs() {
		if sa.Established && belongs(ch, sa) {
			to = sa
		}
	}
	return to
}

// replaced reports whether a newer bundle of old's connection, peer and
// traffic is installed: the peer rekeyed it.
func (rt *Manager) replaced(old *Child) bool {
	found := false
	rt.each(func(ch *Child) {
		if ch != old && ch.Conn == old.Conn && ch.Remote == old.Remote && ch.Selector == old.Selector &&
			ch.Installed.After(old.Installed) {
			found = true
		}
	})
	return found
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
	rt.each(func(ch *Child) {
		for _, s := range ch.SAs {
			in := s.SPIIn == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Local)
			out := s.SPIOut == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Remote)
			if engineProto(s.Protocol) == ref.Protocol && (in || out) {
				hit = ch
			}
		}
	})
	return hit
}

// drop forgets a bundle wherever it is kept.
func (rt *Manager) drop(old *Child) {
	for sa, list := range rt.children {
		if i := slices.Index(list, old); i >= 0 {
			rt.children[sa] = slices.Delete(slices.Clip(list), i, i+1)
		}
	}
	if i := slices.Index(rt.detached, old); i >= 0 {
		rt.detached = slices.Delete(slices.Clip(rt.detached), i, i+1)
	}
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
