package modecfg

import (
	"encoding/binary"
	"net/netip"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// applicationVersion answers APPLICATION_VERSION
// (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2).
const applicationVersion = "iked"

// supported are the types a gateway answers, for SUPPORTED_ATTRIBUTES.
var supported = []AttrType{InternalIP4Address, InternalIP4Netmask, InternalIP4DNS, ApplicationVersion,
	InternalIP6Address, InternalIP6DNS, InternalIP4Subnet, SupportedAttributes, InternalIP6Subnet,
	UnityBanner, UnityDefDomain, UnitySplitInclude, UnityLocalLAN}

func variable(t AttrType, data []byte) isakmp.Attribute {
	return isakmp.Attribute{Type: uint16(t), Data: data}
}

// replyAttributes builds a REPLY's (or a SET's, asked empty) attributes
// for a client given address addr of pool p, answering what the client
// asked (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.3 and 3.4): with nothing
// asked (push, or an empty REQUEST), the address and everything the pool
// has; otherwise the asked types the pool has an answer for, each once.
// The address of the pool's family answers a request of either family's
// address: a client asks for what it hopes, the pool has what it has.
func replyAttributes(p *policymgr.Pool, addr netip.Addr, asked []isakmp.Attribute) []isakmp.Attribute {
	want := map[AttrType]bool{}
	for _, a := range asked {
		want[AttrType(a.Type)] = true
	}
	all := len(want) == 0
	wants := func(ts ...AttrType) bool {
		if all {
			return true
		}
		for _, t := range ts {
			if want[t] {
				return true
			}
		}
		return false
	}
	var out []isakmp.Attribute
	if addr.IsValid() && wants(InternalIP4Address, InternalIP6Address) {
		if addr.Is4() {
			a := addr.As4()
			out = append(out, variable(InternalIP4Address, a[:]))
			if wants(InternalIP4Netmask, InternalIP4Address) {
				out = append(out, variable(InternalIP4Netmask, netmask(maskOf(p), 4)))
			}
		} else {
			// 16 octets (draft, 3.2) and the prefix length, as strongSwan
			// sends and reads it (its IKEv1 mode_config.c drops the last
			// octet); iked's Parse takes both.
			a := addr.As16()
			out = append(out, variable(InternalIP6Address, append(a[:], byte(maskOf(p)))))
		}
	}
	for _, s := range p.DNS {
		switch {
		case s.Is4() && wants(InternalIP4DNS):
			a := s.As4()
			out = append(out, variable(InternalIP4DNS, a[:]))
		case s.Is6() && wants(InternalIP6DNS):
			a := s.As16()
			out = append(out, variable(InternalIP6DNS, a[:]))
		}
	}
	if p.Domain != "" && wants(UnityDefDomain) {
		out = append(out, variable(UnityDefDomain, []byte(p.Domain)))
	}
	var split4, split6 []netip.Prefix
	for _, n := range p.SplitInclude {
		if n.Addr().Is4() {
			split4 = append(split4, n)
		} else {
			split6 = append(split6, n)
		}
	}
	if len(split4) > 0 {
		if wants(UnitySplitInclude) {
			out = append(out, variable(UnitySplitInclude, unitySplit(split4)))
		}
		if !all && want[InternalIP4Subnet] {
			for _, n := range split4 {
				a := n.Addr().As4()
				out = append(out, variable(InternalIP4Subnet, append(a[:], netmask(n.Bits(), 4)...)))
			}
		}
	}
	if wants(InternalIP6Subnet) {
		for _, n := range split6 {
			out = append(out, variable(InternalIP6Subnet, ip6Subnet(n)))
		}
	}
	if len(p.SplitExclude) > 0 && wants(UnityLocalLAN) {
		out = append(out, variable(UnityLocalLAN, unitySplit(p.SplitExclude)))
	}
	if p.Banner != "" && wants(UnityBanner) {
		out = append(out, variable(UnityBanner, []byte(p.Banner)))
	}
	if !all && want[ApplicationVersion] {
		out = append(out, variable(ApplicationVersion, []byte(applicationVersion)))
	}
	if !all && want[SupportedAttributes] {
		b := make([]byte, 2*len(supported))
		for i, t := range supported {
			binary.BigEndian.PutUint16(b[2*i:], uint16(t))
		}
		out = append(out, variable(SupportedAttributes, b))
	}
	return out
}

// maskOf is the prefix length a pool's address comes with: the pool's
// prefix, or a host for an a-b range.
func maskOf(p *policymgr.Pool) int {
	if p.Prefix.IsValid() {
		return p.Prefix.Bits()
	}
	return p.Range.From.BitLen()
}

// requestAttributes is what a client asks for (an empty REQUEST value
// each, draft-ietf-ipsec-isakmp-mode-cfg-05, 3.3): an address of the
// family of the networks it reaches, DNS, and the Unity attributes. One
// address family only: strongSwan as gateway answers the last address
// asked for.
func requestAttributes(c *policymgr.Connection) []isakmp.Attribute {
	ts := []AttrType{InternalIP4Address, InternalIP4Netmask, InternalIP4DNS}
	if c.Remote.Addr.Is6() || (c.Remote.Addr.IsAny() && c.RemoteGW.Is6()) {
		ts = []AttrType{InternalIP6Address, InternalIP6DNS, InternalIP6Subnet}
	}
	ts = append(ts, UnityBanner, UnityDefDomain, UnitySplitInclude, UnityLocalLAN)
	out := make([]isakmp.Attribute, len(ts))
	for i, t := range ts {
		out[i] = variable(t, nil)
	}
	return out
}
