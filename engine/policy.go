package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Selector is the traffic a connection protects (RFC 2401, 4.4.2; in IKEv1
// the Quick Mode IDs, RFC 2407, 4.6.2), seen from this host: Local is the
// source of outbound traffic. An invalid (zero) prefix means any address of
// the other prefix's family; Protocol 0 and port 0 mean any.
type Selector struct {
	Local, Remote         netip.Prefix
	Protocol              uint8
	LocalPort, RemotePort uint16
}

func (s Selector) String() string {
	str := func(p netip.Prefix, port uint16) string {
		a := "any"
		if p.IsValid() {
			a = p.String()
		}
		if port != 0 {
			a = fmt.Sprintf("%s[%d]", a, port)
		}
		return a
	}
	return fmt.Sprintf("%s <-> %s proto %d", str(s.Local, s.LocalPort), str(s.Remote, s.RemotePort), s.Protocol)
}

// Reverse swaps the two sides: the selector of the other host.
func (s Selector) Reverse() Selector {
	return Selector{Local: s.Remote, Remote: s.Local, Protocol: s.Protocol, LocalPort: s.RemotePort, RemotePort: s.LocalPort}
}

// Is4 reports whether the selector is IPv4 (the zero selector is).
func (s Selector) Is4() bool {
	switch {
	case s.Local.IsValid():
		return s.Local.Addr().Is4()
	case s.Remote.IsValid():
		return s.Remote.Addr().Is4()
	}
	return true
}

// Policy is one kernel security policy: traffic matching Selector in
// direction Dir must go through the protocols of Protocols (innermost first,
// as XFRM templates), in Mode between the tunnel endpoints Local and Remote.
type Policy struct {
	Dir       Direction
	Selector  Selector
	Mode      Mode
	Local     netip.Addr // tunnel endpoints; unused in transport mode
	Remote    netip.Addr
	Protocols []Protocol
	ReqID     uint32
	Priority  uint32 // lower is preferred; 0 lets the backend choose
}

func (p Policy) String() string {
	return fmt.Sprintf("%s %s %s %v reqid %d", p.Dir, p.Selector, p.Mode, p.Protocols, p.ReqID)
}

// PoliciesFor returns the policies one connection needs on Linux: out and
// in, and fwd for a tunnel (the gateway forwards the decapsulated traffic).
func PoliciesFor(sel Selector, mode Mode, local, remote netip.Addr, protocols []Protocol, reqID uint32) []Policy {
	all3 := [...]Direction{DirOut, DirIn, DirFwd}
	dirs := all3[:2]
	if mode == ModeTunnel {
		dirs = all3[:]
	}
	ps := make([]Policy, 0, len(dirs))
	// One backing array for the protocols of all the policies, each
	// policy its own part of it, capped so that an append to one cannot
	// reach the next: each still has its own copy, in one allocation.
	n := len(protocols)
	all := make([]Protocol, n*len(dirs))
	for i, d := range dirs {
		own := all[i*n : (i+1)*n : (i+1)*n]
		copy(own, protocols)
		if protocols == nil {
			own = nil // as slices.Clone(nil) gave
		}
		ps = append(ps, Policy{Dir: d, Selector: sel, Mode: mode, Local: local, Remote: remote,
			Protocols: own, ReqID: reqID})
	}
	return ps
}

// Errors of policy validation.
var (
	ErrPolicySelector  = errors.New("engine: selector prefixes of different families")
	ErrPolicyEndpoints = errors.New("engine: tunnel endpoints missing or of different families")
	ErrPolicyChain     = errors.New("engine: policy protocol chain empty, repeated or not IPsec")
	ErrPolicyPorts     = errors.New("engine: ports given for a protocol other than TCP, UDP or SCTP")
)

// Validate checks a policy before it reaches the kernel.
func (p *Policy) Validate() error {
	s := p.Selector
	if s.Local.IsValid() && s.Remote.IsValid() && s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
		return ErrPolicySelector
	}
	// Ports only make sense for the port-carrying protocols (RFC 2407, 4.6.2).
	if (s.LocalPort != 0 || s.RemotePort != 0) && s.Protocol != 6 && s.Protocol != 17 && s.Protocol != 132 {
		return ErrPolicyPorts
	}
	if p.Dir != DirIn && p.Dir != DirOut && p.Dir != DirFwd {
		return fmt.Errorf("engine: %v", p.Dir)
	}
	switch p.Mode {
	case ModeTunnel:
		if !p.Local.IsValid() || !p.Remote.IsValid() || p.Local.Is4() != p.Remote.Is4() || p.Local.Is4() != p.Is4() {
			return ErrPolicyEndpoints
		}
	case ModeTransport:
	default:
		return fmt.Errorf("engine: %v", p.Mode)
	}
	if _, err := chainOf(protoSAs(p.Protocols)); err != nil || len(p.Protocols) == 0 {
		return ErrPolicyChain
	}
	return nil
}

func protoSAs(ps []Protocol) []SA {
	sas := make([]SA, len(ps))
	for i, p := range ps {
		sas[i].Protocol = p
	}
	return sas
}

// Is4 reports whether the policy is IPv4: its selector's family, or for an
// any-to-any selector its tunnel endpoints' family.
func (p *Policy) Is4() bool {
	if !p.Selector.Local.IsValid() && !p.Selector.Remote.IsValid() && p.Local.IsValid() {
		return p.Local.Is4()
	}
	return p.Selector.Is4()
}

// Chain returns the policy's protocols innermost first (IPComp, ESP, AH).
func (p *Policy) Chain() []Protocol {
	c := slices.Clone(p.Protocols)
	slices.SortFunc(c, func(a, b Protocol) int { return a.chainRank() - b.chainRank() })
	return c
}
