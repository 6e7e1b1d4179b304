package phase1

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/pki"
	"github.com/iked/iked/policymgr"
)

// peerAddr returns the address a connection negotiates with: its remote
// gateway, or in transport mode its single remote host. Invalid means any
// peer (a road warrior connection) or a DNS name not resolved here.
func peerAddr(c *policymgr.Connection) netip.Addr {
	if c.RemoteGW.IsValid() {
		return c.RemoteGW
	}
	if !c.Tunnel && c.Remote.Addr.IsHost() {
		return c.Remote.Addr.From
	}
	return netip.Addr{}
}

// localAddr returns the local endpoint a connection names, if any.
func localAddr(c *policymgr.Connection) netip.Addr {
	if c.LocalGW.IsValid() {
		return c.LocalGW
	}
	if !c.Tunnel && c.Local.Addr.IsHost() {
		return c.Local.Addr.From
	}
	return netip.Addr{}
}

// hasIKE reports whether the policy has a connection negotiated with IKE.
func hasIKE(p *policymgr.Policy) bool {
	if p == nil {
		return false
	}
	for _, c := range p.Connections {
		if c.IKE != nil {
			return true
		}
	}
	return false
}

// connectionsFor lists, in file order, the IKE connections that accept a
// phase 1 from remote on local: those naming remote as their peer first,
// then road warrior connections (which answer any peer).
func connectionsFor(p *policymgr.Policy, local, remote netip.Addr) []*policymgr.Connection {
	if p == nil {
		return nil
	}
	remote, local = remote.Unmap(), local.Unmap()
	var exact, any []*policymgr.Connection
	for _, c := range p.Connections {
		if c.IKE == nil {
			continue
		}
		if la := localAddr(c); la.IsValid() && local.IsValid() && !local.IsUnspecified() && la.Unmap() != local {
			continue
		}
		pa := peerAddr(c)
		switch {
		case pa.IsValid() && pa.Unmap() == remote:
			exact = append(exact, c)
		case !pa.IsValid() && c.RemoteGWName == "":
			any = append(any, c)
		}
	}
	return append(exact, any...)
}

// inMode returns the connections of conns whose ike.mode is mode: the
// responder answers a peer only in the mode its connection names.
func inMode(conns []*policymgr.Connection, mode isakmp.ExchangeType) []*policymgr.Connection {
	var out []*policymgr.Connection
	for _, c := range conns {
		if c.IKE.Mode == mode {
			out = append(out, c)
		}
	}
	return out
}

// modeRefused is the reason (message 46) for a first message in a mode
// that no connection for the peer names.
func modeRefused(mode isakmp.ExchangeType, conns []*policymgr.Connection) string {
	var names []string
	for _, c := range conns {
		names = append(names, fmt.Sprintf("%s (%s Mode)", c.Name, c.IKE.Mode))
	}
	return fmt.Sprintf("%s Mode is not accepted: the connections for this peer are %s", mode, strings.Join(names, ", "))
}

// accepts reports whether connection c accepts transform t as proposed:
// the same cipher and key length, hash, group and authentication method
// as one of its alternatives. Lifetimes are not compared: the responder
// takes the initiator's (raised to the minimum), as strongSwan does.
func accepts(c *policymgr.Connection, t Transform) bool {
	if t.Auth != authMethod(c, daemon.RoleResponder) {
		return false
	}
	for _, pt := range c.IKE.Transforms {
		if pt.Cipher == t.Cipher && pt.KeyLength == t.KeyLength && pt.Hash == t.Hash && pt.Group == t.Group {
			return true
		}
	}
	return false
}

// offer returns the transforms the initiator proposes for c, in the
// connection's order of preference.
func offer(c *policymgr.Connection) []Transform {
	ts := make([]Transform, 0, len(c.IKE.Transforms))
	for _, pt := range c.IKE.Transforms {
		ts = append(ts, fromPolicy(pt, authMethod(c, daemon.RoleInitiator)))
	}
	return ts
}

// authMethod is the Authentication Method c proposes (as initiator) or
// accepts (as responder): with ike.xauth, the XAUTH method over the
// connection's own, Init when the phase 1 initiator is the XAUTH client
// (draft-beaulieu-ike-xauth-02, 3.3), as strongSwan and Cisco clients
// propose it.
func authMethod(c *policymgr.Connection, role daemon.Role) isakmp.AuthMethod {
	m := c.IKE.AuthMethod
	switch c.IKE.XAuth {
	case policymgr.XAuthClient:
		return m.WithXAUTH(role == daemon.RoleInitiator)
	case policymgr.XAuthServer:
		return m.WithXAUTH(role == daemon.RoleResponder)
	}
	return m
}

// explainMismatch says which attribute kept every offered transform from
// every candidate connection, naming the values offered and configured:
// the log line an operator needs when NO-PROPOSAL-CHOSEN is all the peer
// says. It names the first attribute (in RFC 2409, Appendix A order) whose
// offered values meet none of the configured ones; when each attribute
// alone has a match but no transform combines them, it says so.
func explainMismatch(offered []Transform, conns []*policymgr.Connection) string {
	if len(conns) == 0 {
		return "no connection for this peer"
	}
	var conf []Transform
	for _, c := range conns {
		conf = append(conf, offer(c)...)
	}
	type attr struct {
		name string
		get  func(Transform) string
	}
	attrs := []attr{
		{"encryption algorithm", func(t Transform) string { return t.Cipher.String() }},
		{"key length", func(t Transform) string { return fmt.Sprint(t.KeyLength) }},
		{"hash algorithm", func(t Transform) string { return t.Hash.String() }},
		{"group", func(t Transform) string { return t.Group.String() }},
		{"authentication method", func(t Transform) string { return t.Auth.String() }},
	}
	for _, a := range attrs {
		off, cfg := values(offered, a.get), values(conf, a.get)
		if !intersects(off, cfg) {
			return fmt.Sprintf("%s offered %s, configured %s",
				a.name, strings.Join(off, ","), strings.Join(cfg, ","))
		}
	}
	var o, c []string
	for _, t := range offered {
		o = append(o, t.String())
	}
	for _, t := range conf {
		c = append(c, t.String())
	}
	return fmt.Sprintf("no offered transform matches a configured one as a whole; offered %s, configured %s",
		strings.Join(o, " | "), strings.Join(c, " | "))
}

func values(ts []Transform, get func(Transform) string) []string {
	var out []string
	for _, t := range ts {
		if v := get(t); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func intersects(a, b []string) bool {
	for _, v := range a {
		if slices.Contains(b, v) {
			return true
		}
	}
	return false
}

// lifetimeMin returns the policy's phase1-lifetime-min.
func lifetimeMin(p *policymgr.Policy) time.Duration {
	if p == nil {
		return 0
	}
	return p.Daemon.Phase1LifetimeMin
}

// localID returns the ID payload this host sends for connection c: the
// configured local-id, else the local address (policymgr's rule).
func localID(c *policymgr.Connection, local netip.Addr) *isakmp.ID {
	if id := c.IKE.LocalID; !id.IsZero() {
		return &isakmp.ID{IDType: id.Type, Data: append([]byte(nil), id.Data...)}
	}
	return isakmp.IDFromAddr(local.Unmap())
}

// idText prints an identity as messages show it (address, name, or DN in
// strongSwan's form).
func idText(id *isakmp.ID) string {
	if id == nil {
		return "?"
	}
	return pki.ID{Type: id.IDType, Data: id.Data}.String()
}

// remoteIDMatches reports whether the peer's ID is the one connection c
// requires (remote-id; any when not given). DNs compare as strongSwan
// compares them (pki.MatchDN), names without regard to case.
func remoteIDMatches(c *policymgr.Connection, id *isakmp.ID) bool {
	want := c.IKE.RemoteID
	if want.IsZero() {
		return true
	}
	if want.Type != id.IDType {
		return false
	}
	switch id.IDType {
	case isakmp.IDDERASN1DN:
		return pki.MatchDN(want.Data, id.Data)
	case isakmp.IDFQDN, isakmp.IDUserFQDN:
		return strings.EqualFold(string(want.Data), string(id.Data))
	}
	return string(want.Data) == string(id.Data)
}
