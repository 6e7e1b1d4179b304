package policymgr

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

// Phase1Candidates returns the IKE connections that may negotiate phase 1
// with a peer at remote whose packets arrive at local (local may be the
// zero Addr when unknown), in order of preference: a connection naming
// the peer's address as remote-gw, then one whose remote-gw DNS name
// resolves to it (resolve may be nil: those never match), then transport
// mode connections whose remote-address holds it, then road warrior
// connections that answer any peer. The ID the peer proves later narrows
// the choice (SelectByID).
//
// The error is message 53 when no policy is loaded (p is nil) and 41 when
// nothing matches.
func (p *Policy) Phase1Candidates(local, remote netip.Addr, resolve func(host string) []netip.Addr) ([]*Connection, error) {
	if p == nil {
		return nil, notify.NoPolicyLoaded()
	}
	local, remote = local.Unmap(), remote.Unmap()
	var exact, named, transport, warriors []*Connection
	for _, c := range p.Connections {
		if c.IKE == nil {
			continue
		}
		if c.LocalGW.IsValid() && local.IsValid() && c.LocalGW != local {
			continue
		}
		switch {
		case !c.Tunnel:
			if c.Remote.Addr.Contains(remote) && (!local.IsValid() || c.Local.Addr.IsAny() || c.Local.Addr.Contains(local)) {
				transport = append(transport, c)
			}
		case c.RemoteGW.IsValid():
			if c.RemoteGW == remote {
				exact = append(exact, c)
			}
		case c.RemoteGWName != "":
			if resolve != nil {
				for _, a := range resolve(c.RemoteGWName) {
					if a.Unmap() == remote {
						named = append(named, c)
						break
					}
				}
			}
		default:
			warriors = append(warriors, c)
		}
	}
	out := append(append(append(exact, named...), transport...), warriors...)
	if len(out) == 0 {
		l := "any"
		if local.IsValid() {
			l = local.String()
		}
		return nil, notify.NoPolicyFor(l, remote.String())
	}
	return out, nil
}

// SelectByID picks, among the candidates of Phase1Candidates, the first
// whose remote-id is the identity the peer sent (a connection without
// remote-id takes any identity its authentication proves). The error is
// message 41 naming both identities.
func SelectByID(candidates []*Connection, peer ID) (*Connection, error) {
	for _, c := range candidates {
		if c.IKE != nil && IDMatches(c.IKE.RemoteID, peer) {
			return c, nil
		}
	}
	local := "any"
	if len(candidates) > 0 && candidates[0].IKE != nil && !candidates[0].IKE.LocalID.IsZero() {
		local = candidates[0].IKE.LocalID.Text
	}
	return nil, notify.NoPolicyFor(local, peer.Text)
}

// IDMatches reports whether the peer's identity satisfies a configured
// one: a zero configured ID takes any; a DN compares as strongSwan does
// (pki.MatchDN); names compare without regard to case; the rest byte for
// byte.
func IDMatches(want, got ID) bool {
	if want.IsZero() {
		return true
	}
	if want.Type != got.Type {
		return false
	}
	switch want.Type {
	case isakmp.IDDERASN1DN:
		return pki.MatchDN(want.Data, got.Data)
	case isakmp.IDFQDN, isakmp.IDUserFQDN:
		return bytes.EqualFold(want.Data, got.Data)
	}
	return bytes.Equal(want.Data, got.Data)
}

// IDFromPayload makes an ID of an ID payload's type and data (RFC 2407,
// 4.6.2), with the text messages show: an address, a name, a DN in
// strongSwan's form, or hex.
func IDFromPayload(t isakmp.IDType, data []byte) ID {
	id := ID{Type: t, Data: data}
	switch t {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(data); ok && (len(data) == 4) == (t == isakmp.IDIPv4Addr) {
			id.Text = a.String()
			return id
		}
	case isakmp.IDFQDN, isakmp.IDUserFQDN:
		id.Text = pki.ID{Type: t, Data: data}.String()
		return id
	case isakmp.IDDERASN1DN:
		if s, err := pki.FormatDN(data); err == nil {
			id.Text = s
			return id
		}
	}
	if len(data) > 64 {
		data = data[:64]
	}
	id.Text = t.String() + ":" + hex.EncodeToString(data)
	return id
}

// QMMatch is the connection a Quick Mode negotiates under and the
// selectors it uses: the peer's proposal, which lies within the
// connection's (Narrowed: strictly within).
type QMMatch struct {
	Conn          *Connection
	Local, Remote Selector
	Narrowed      bool
}

// QuickMode finds the connection for a pair of Quick Mode selectors the
// peer proposed, seen from this host (local: our side, remote: the
// peer's; as responder that is IDcr and IDci). The connection the phase 1
// was negotiated under is tried first, then the others this peer may use
// with the same authentication. The narrowing rule, like strongSwan's: the
// peer may propose a subset of what a connection allows (fewer addresses,
// one protocol where the connection allows any, one port where it allows
// any), never more. SA-per-host connections reject ranges (message 63) and,
// without remote addresses, anything but the peer itself (64). A road
// warrior connection has its own limits, and a Mode Config gateway's take
// only the address leased to the peer, leased (WarriorLimit).
//
// The error is message 53 with no policy, 63 or 64 when only an
// SA-per-host rule refused, otherwise 54 (with the road warrior limit that
// refused, if one did).
func (p *Policy) QuickMode(phase1 *Connection, peer, leased netip.Addr, local, remote Selector) (QMMatch, error) {
	if p == nil {
		return QMMatch{}, notify.NoPolicyLoaded()
	}
	peer = peer.Unmap()
	cands := []*Connection{}
	if phase1 != nil {
		cands = append(cands, phase1)
	}
	for _, c := range p.Connections {
		if c != phase1 && c.IKE != nil && (phase1 == nil || samePhase1(phase1, c, peer)) {
			cands = append(cands, c)
		}
	}
	var refusal error
	for _, c := range cands {
		l, okL := narrow(c.Local, local)
		r, okR := narrow(c.Remote, remote)
		if !okL || !okR {
			continue
		}
		if !c.Tunnel && !remote.Addr.IsHost() {
			continue // transport mode is between the hosts themselves
		}
		if c.SAPerHost {
			if !remote.Addr.IsHost() {
				if refusal == nil {
					refusal = notify.SAPerHostRange()
				}
				continue
			}
			if c.Remote.Addr.IsAny() && remote.Addr.From != peer {
				if refusal == nil {
					refusal = notify.SAPerHostNotSelf()
				}
				continue
			}
		}
		if why := WarriorLimit(c, remote.Addr, peer, leased); why != "" {
			if refusal == nil {
				refusal = fmt.Errorf("%w: %s", notify.SPDRejected(local.String(), remote.String()), why)
			}
			continue
		}
		return QMMatch{Conn: c, Local: l, Remote: r, Narrowed: l != c.Local || r != c.Remote}, nil
	}
	if refusal != nil {
		return QMMatch{}, refusal
	}
	return QMMatch{}, notify.SPDRejected(local.String(), remote.String())
}

// WarriorLimit says why a road warrior connection (a tunnel that answers
// any peer gateway: no remote-gw) refuses remote, the remote selector a
// peer at address peer proposed, or "" when it does not. Such a peer is
// whoever authenticates, so what it may claim is limited: without
// remote-address only its own address (the one phase 1 ran with); with
// remote-address, that range and parts of it (narrow already holds it
// there); never anything overlapping the connection's local-address, the
// networks behind this gateway, whose traffic it would draw into its
// tunnel. A connection with a Mode Config pool (any tunnel, road warrior
// or not) takes only the address leased to the peer (leased; invalid:
// none), so that one road warrior cannot claim another's. `iked -check`
// says the same for each such connection (describe).
func WarriorLimit(c *Connection, remote Range, peer, leased netip.Addr) string {
	pool := c.ModeConfig != nil && c.ModeConfig.Pool != nil
	if !c.Tunnel || (!c.RoadWarrior() && !pool) {
		return ""
	}
	if !c.Local.Addr.IsAny() {
		if _, overlap := c.Local.Addr.Intersect(remote); overlap {
			return fmt.Sprintf("connection %q: the remote selector %s overlaps the local-address %s", c.Name, remote, c.Local.Addr)
		}
	}
	switch {
	case pool && !leased.IsValid():
		return fmt.Sprintf("connection %q leases addresses of pool %q and the peer has none: Mode Config comes before Quick Mode", c.Name, c.ModeConfig.PoolName)
	case pool && (!remote.IsHost() || remote.From.Unmap() != leased.Unmap()):
		return fmt.Sprintf("connection %q: a road warrior's remote selector is the address leased to it, %s, not %s", c.Name, leased.Unmap(), remote)
	case pool:
		return ""
	}
	if c.Remote.Addr.IsAny() && (!remote.IsHost() || remote.From.Unmap() != peer.Unmap()) {
		return fmt.Sprintf("connection %q has no remote-address: a road warrior's remote selector is its own address %s, not %s", c.Name, peer.Unmap(), remote)
	}
	return ""
}

// narrow checks a proposed selector against a connection's: the
// proposal must lie within it, and is then the narrowed selector.
func narrow(conn, prop Selector) (Selector, bool) {
	if prop.Addr.IsAny() || !conn.Addr.Covers(prop.Addr) {
		return Selector{}, false
	}
	if conn.Proto != 0 && prop.Proto != conn.Proto {
		return Selector{}, false
	}
	if conn.Port != 0 && prop.Port != conn.Port {
		return Selector{}, false
	}
	return prop, true
}

// samePhase1 reports whether connection b may be used by a peer that
// authenticated under a: the same gateways and the same authentication.
func samePhase1(a, b *Connection, peer netip.Addr) bool {
	if a.IKE == nil || b.IKE == nil || a.LocalGW != b.LocalGW || a.Tunnel != b.Tunnel {
		return false
	}
	switch {
	case b.RemoteGW.IsValid():
		if b.RemoteGW != peer {
			return false
		}
	case b.RemoteGWName != "":
		if a.RemoteGWName != b.RemoteGWName {
			return false
		}
	case b.Tunnel:
		if !a.RoadWarrior() {
			return false
		}
	}
	x, y := a.IKE, b.IKE
	return x.Auth == y.Auth && bytes.Equal(x.PSK, y.PSK) && x.Certificate == y.Certificate && x.CA == y.CA &&
		x.RemoteID.Type == y.RemoteID.Type && bytes.Equal(x.RemoteID.Data, y.RemoteID.Data)
}

// ForTraffic returns the first connection whose selectors hold a packet
// from src to dst (this host's side first), for a kernel acquire and for
// deciding whether to log message 7.
func (p *Policy) ForTraffic(src, dst netip.Addr, proto uint8, srcPort, dstPort uint16) (*Connection, bool) {
	if p == nil {
		return nil, false
	}
	for _, c := range p.Connections {
		if !c.Local.Addr.Contains(src) || !c.Remote.Addr.Contains(dst) {
			continue
		}
		if c.Local.Proto != 0 && c.Local.Proto != proto {
			continue
		}
		if c.Local.Port != 0 && c.Local.Port != srcPort || c.Remote.Port != 0 && c.Remote.Port != dstPort {
			continue
		}
		return c, true
	}
	return nil, false
}
