//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// InstallPolicies adds the policies, all or none: on a failure the ones
// added by this call are removed again.
func (b *Backend) InstallPolicies(ps []engine.Policy) error {
	if b.h == nil {
		return errNotOpen
	}
	for _, p := range ps {
		if _, err := kernelReqID(p.ReqID); err != nil {
			return err
		}
	}
	var added []engine.Policy
	for _, p := range ps {
		xp := kernelPolicy(p)
		if err := b.h.XfrmPolicyAdd(xp); err != nil {
			kerr := wrap(err, "add policy", p.String(), firstProto(p), !p.Is4())
			var errs []error
			for _, q := range added {
				if e := b.h.XfrmPolicyDel(kernelPolicy(q)); e != nil {
					errs = append(errs, wrap(e, "remove policy", q.String(), firstProto(q), !q.Is4()))
				}
				b.forget(q)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%w; cleaning up also failed: %w", kerr, errors.Join(errs...))
			}
			return kerr
		}
		added = append(added, p)
		k := policyKey{p.Dir, p.Selector}
		b.policies[k] = p
		b.porder = append(b.porder, k)
	}
	return nil
}

// RemovePolicies removes policies; it tries every one.
func (b *Backend) RemovePolicies(ps []engine.Policy) error {
	if b.h == nil {
		return errNotOpen
	}
	var errs []error
	for _, p := range ps {
		err := b.h.XfrmPolicyDel(kernelPolicy(p))
		if err == nil || errors.Is(err, unix.ENOENT) {
			b.forget(p)
		}
		if err != nil {
			errs = append(errs, wrap(err, "remove policy", p.String(), firstProto(p), !p.Is4()))
		}
	}
	return errors.Join(errs...)
}

func (b *Backend) forget(p engine.Policy) {
	k := policyKey{p.Dir, p.Selector}
	delete(b.policies, k)
	for i, o := range b.porder {
		if o == k {
			b.porder = append(b.porder[:i], b.porder[i+1:]...)
			break
		}
	}
}

func firstProto(p engine.Policy) engine.Protocol {
	if c := p.Chain(); len(c) > 0 {
		return c[0]
	}
	return 0
}

// kernelPolicy converts a policy to XFRM's: the selector from the kernel's
// point of view (outbound Local -> Remote, in and fwd the reverse), and one
// template per protocol, innermost first; only the innermost carries the
// tunnel and its endpoints (RFC 4301, 4.5 nesting as Linux and strongSwan
// lay it out), with the reqid in our range (owner.go). IPComp is optional inbound: a peer sends small packets
// uncompressed (RFC 3173, 2.2).
func kernelPolicy(p engine.Policy) *netlink.XfrmPolicy {
	inbound := p.Dir != engine.DirOut
	s := p.Selector
	src, dst := p.Local, p.Remote
	if inbound {
		s = s.Reverse()
		src, dst = dst, src
	}
	v4 := p.Is4()
	xp := &netlink.XfrmPolicy{
		Src: ipNet(s.Local, v4), Dst: ipNet(s.Remote, v4),
		Proto: netlink.Proto(s.Protocol), SrcPort: int(s.LocalPort), DstPort: int(s.RemotePort),
		Dir: netlink.Dir(p.Dir), Priority: int(priority(p)),
	}
	mode := p.Mode
	for _, proto := range p.Chain() {
		t := netlink.XfrmPolicyTmpl{Proto: netlink.Proto(proto), Mode: netlink.Mode(mode), Reqid: int(ReqIDBase + p.ReqID)}
		if mode == engine.ModeTunnel {
			t.Src, t.Dst = src.AsSlice(), dst.AsSlice()
		} else if v4 {
			t.Src, t.Dst = net.IPv4zero.To4(), net.IPv4zero.To4()
		} else {
			t.Src, t.Dst = net.IPv6zero, net.IPv6zero
		}
		if proto == engine.ProtoIPComp && inbound {
			t.Optional = 1
		}
		xp.Tmpls = append(xp.Tmpls, t)
		mode = engine.ModeTransport
	}
	return xp
}

// priority prefers more specific selectors (the kernel picks the lowest
// value), as RFC 4301, 4.4.1 orders the SPD: longer prefixes, then a
// protocol, then ports.
func priority(p engine.Policy) uint32 {
	if p.Priority != 0 {
		return p.Priority
	}
	s := p.Selector
	spec := uint32(max(0, s.Local.Bits())+max(0, s.Remote.Bits())) * 4 // an invalid (any) prefix has Bits -1
	if s.Protocol != 0 {
		spec += 2
	}
	if s.LocalPort != 0 || s.RemotePort != 0 {
		spec++
	}
	return 3000 - spec
}
