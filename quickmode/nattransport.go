package quickmode

import (
	"net/netip"

	"go.uber.org/zap"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Transport mode through a NAT (RFC 3947, 5.2; RFC 3948, 3.1.2): the
// hosts name themselves in the Quick Mode IDs and NAT-OA payloads by the
// addresses they know themselves by, a client behind a NAT by its private
// one. But in transport mode the IP header the kernel matches its SA and
// policy selectors against is the outer one, which the NAT rewrote: on the
// gateway an L2TP/IPsec client's packets come from the NAT's public
// address, and go back to it. So for a UDP-encapsulated transport SA the
// addresses of both selectors are the ISAKMP SA's hosts as this host sees
// them (the peer's: where its packets really come from), while protocol
// and ports stay as negotiated; the IDs sent back are the ones received.
// strongSwan does the same (get_ts in src/libcharon/sa/ikev1/tasks/
// quick_mode.c, "changing received traffic selectors due to NAT").
//
// Two clients behind one NAT then share the public address: their
// selectors differ only when their ports do (an L2TP client's UDP source
// port; xl2tpd's `port`). The kernel tells their SAs apart by the SA
// selectors, which carry the ports (engine/xfrm/state.go); with equal
// ports the selectors are equal, and Linux sends the traffic of both to
// the newer SA (docs/howto-l2tp.md).

// natTransportMode reports whether an encapsulation mode is UDP-
// encapsulated transport (RFC 3947, 5.1, and the draft value).
func natTransportMode(e isakmp.EncapsulationMode) bool {
	return e == isakmp.EncapUDPTransport || e == isakmp.EncapUDPTransportDraft
}

// proposesNATTransport reports whether the initiator's first proposal asks
// for UDP-encapsulated transport mode in its first transform, as strongSwan
// reads the mode of a Quick Mode (sa_payload.c, get_encap_mode); the
// chosen proposal is checked against it later (checkNATTransport).
func proposesNATTransport(sa *isakmp.SA) bool {
	if len(sa.Proposals) == 0 || len(sa.Proposals[0].Transforms) == 0 {
		return false
	}
	a, err := parseAttrs(sa.Proposals[0].Transforms[0])
	return err == nil && natTransportMode(a.Encap)
}

// toHosts gives the selectors the ISAKMP SA's addresses as this host sees
// them, keeping their protocols and ports.
func (x *Exchange) toHosts(local, remote policymgr.Selector) (policymgr.Selector, policymgr.Selector) {
	local.Addr = policymgr.HostRange(x.P1.Local.Addr().Unmap())
	remote.Addr = policymgr.HostRange(x.P1.Remote.Addr().Unmap())
	return local, remote
}

// mapNATTransport replaces the addresses of the selectors the peer
// proposed by the hosts' (responder), remembering the peer's original
// address: its NAT-OA, or else the address in its ID.
func (x *Exchange) mapNATTransport(env Env, natoa []*isakmp.NATOA) {
	orig := x.Remote
	x.Local, x.Remote = x.toHosts(x.Local, x.Remote)
	x.natMapped = true
	x.peerOA = originalAddr(natoa, 0, orig)
	if env.Log != nil && orig != x.Remote {
		env.Log.Debug("transport mode through a NAT: the peer's selector is the address its packets come from",
			zap.String("proposed", orig.String()), zap.String("used", x.Remote.String()),
			zap.String("nat-oa", x.peerOA.String()))
	}
}

// originalAddr is a peer's original address: NAT-OA number i (RFC 3947,
// 5.2: the initiator's first, then the responder's), else the selector's
// address when it is one host.
func originalAddr(natoa []*isakmp.NATOA, i int, sel policymgr.Selector) netip.Addr {
	if i < len(natoa) && natoa[i].Addr.IsValid() {
		return natoa[i].Addr.Unmap()
	}
	if sel.Addr.IsHost() {
		return sel.Addr.From.Unmap()
	}
	return netip.Addr{}
}

// chosenEncap is the encapsulation mode of a chosen proposal: its ESP's,
// else its first protocol's.
func chosenEncap(c *Chosen) isakmp.EncapsulationMode {
	for _, p := range c.Protos {
		if p.Protocol == isakmp.ProtoESP {
			return p.Attrs.Encap
		}
	}
	if len(c.Protos) > 0 {
		return c.Protos[0].Attrs.Encap
	}
	return 0
}

// natMappedChild reports a UDP-encapsulated transport-mode bundle.
func natMappedChild(ch *Child) bool {
	return ch.Mode == engine.ModeTransport && ch.Encap != nil
}

// sameSelectorAs returns a bundle of another client behind the same NAT
// whose transport selectors equal those of ch (nil if none): Linux then
// sends the traffic of both to the newer SA (xfrm_state_find takes the
// newest state that matches), so the older client's replies go astray.
// It is logged, not refused: a client that comes back on a new NAT port
// while its old SA lingers is the same case, and there the newer SA is
// the right one.
func (rt *Manager) sameSelectorAs(ch *Child) *Child {
	if !natMappedChild(ch) {
		return nil
	}
	var other *Child
	for _, o := range rt.byPeer[keyOf(ch)] {
		if o != ch && natMappedChild(o) && o.Selector == ch.Selector && o.Encap.RemotePort != ch.Encap.RemotePort {
			other = o
		}
	}
	return other
}
