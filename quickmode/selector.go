package quickmode

import (
	"fmt"
	"net/netip"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// idOf encodes a selector as a Quick Mode identity (RFC 2407, 4.6.2): an
// address, subnet or range with the IP protocol and port. The any range
// becomes 0.0.0.0/0 or ::/0 in the family of the ISAKMP SA (v6).
func idOf(s policymgr.Selector, v6 bool) (*isakmp.ID, error) {
	r := s.Addr
	var id *isakmp.ID
	switch {
	case r.IsAny() && v6:
		id = isakmp.IDFromPrefix(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
	case r.IsAny():
		id = isakmp.IDFromPrefix(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	case r.IsHost():
		id = isakmp.IDFromAddr(r.From)
	default:
		if p, ok := r.Prefix(); ok {
			id = isakmp.IDFromPrefix(p)
			break
		}
		var err error
		if id, err = isakmp.IDFromRange(r.From, r.To); err != nil {
			return nil, err
		}
	}
	id.Protocol, id.Port = s.Proto, s.Port
	return id, nil
}

// selectorOf decodes a Quick Mode identity (RFC 2407, 4.6.2): only the
// address types carry traffic selectors; anything else is
// INVALID-ID-INFORMATION.
func selectorOf(id *isakmp.ID) (policymgr.Selector, error) {
	s := policymgr.Selector{Proto: id.Protocol, Port: id.Port}
	switch id.IDType {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		a, err := id.Addr()
		if err != nil {
			return s, fmt.Errorf("%w: %v", isakmp.InvalidIDInformation, err)
		}
		s.Addr = policymgr.HostRange(a)
	case isakmp.IDIPv4AddrSubnet, isakmp.IDIPv6AddrSubnet:
		p, err := id.Prefix()
		if err != nil {
			return s, fmt.Errorf("%w: %v", isakmp.InvalidIDInformation, err)
		}
		s.Addr = policymgr.RangeOf(p)
	case isakmp.IDIPv4AddrRange, isakmp.IDIPv6AddrRange:
		from, to, err := id.Range()
		if err != nil {
			return s, fmt.Errorf("%w: %v", isakmp.InvalidIDInformation, err)
		}
		if to.Less(from) {
			return s, fmt.Errorf("%w: range %s-%s ends before it starts", isakmp.InvalidIDInformation, from, to)
		}
		s.Addr = policymgr.Range{From: from, To: to}
	default:
		return s, fmt.Errorf("%w: %v is not a traffic selector", isakmp.InvalidIDInformation, id.IDType)
	}
	if s.Port != 0 && s.Proto != 6 && s.Proto != 17 && s.Proto != 132 {
		// RFC 2407, 4.6.2: ports only mean something for TCP/UDP(/SCTP).
		return s, fmt.Errorf("%w: port %d with protocol %d", isakmp.InvalidIDInformation, s.Port, s.Proto)
	}
	return s, nil
}

// sameSelector reports whether the peer's answer carries the selector we
// proposed (RFC 2409, 5.5: the responder returns the IDs it accepted).
func sameSelector(a, b policymgr.Selector) bool { return a == b }

// prefixOf is a selector's address as a prefix for the engine; a range
// that is no prefix (and the any range) gives the zero prefix: any.
func prefixOf(r policymgr.Range) netip.Prefix {
	if p, ok := r.Prefix(); ok {
		return p
	}
	return netip.Prefix{}
}

// engineSelector is the negotiated traffic for the engine, seen from this
// host.
func engineSelector(local, remote policymgr.Selector) engine.Selector {
	proto := local.Proto
	if proto == 0 {
		proto = remote.Proto
	}
	return engine.Selector{Local: prefixOf(local.Addr), Remote: prefixOf(remote.Addr), Protocol: proto,
		LocalPort: local.Port, RemotePort: remote.Port}
}

// selectorText prints a selector for messages 57/58 and logs.
func selectorText(s policymgr.Selector) string { return s.String() }
