//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// Policies are kept per kernel key (direction and selector) as a stack:
// the kernel holds one policy per key, the last installed of the stack.
// Installing a policy whose key is already ours pushes it and, if it
// differs from the kernel's, replaces the kernel's atomically
// (XFRM_MSG_UPDPOLICY); removing one pops it and puts the one below back,
// or removes the kernel's policy when none is left. So a reload installs
// its policies before it removes the old ones (make-before-break: no moment
// without a policy, when protected traffic would leave in clear), and a
// rekeyed bundle's policies outlive the removal of the old bundle's. A key
// we do not hold is added exclusively: another program's policy on the
// same selector makes the install fail (EEXIST) and is left alone.

// InstallPolicies adds the policies, all or none: on a failure the ones
// added or replaced by this call are taken back.
func (b *Backend) InstallPolicies(ps []engine.Policy) error {
	if b.h == nil {
		return errNotOpen
	}
	seen := map[policyKey]bool{}
	for _, p := range ps {
		if _, err := kernelReqID(p.ReqID); err != nil {
			return err
		}
		k := policyKey{p.Dir, p.Selector}
		if seen[k] {
			return fmt.Errorf("xfrm engine: policy %s given twice", p)
		}
		seen[k] = true
	}
	var added []engine.Policy
	for _, p := range ps {
		if err := b.push(p); err != nil {
			var errs []error
			for i := len(added) - 1; i >= 0; i-- {
				if e := b.pop(added[i]); e != nil {
					errs = append(errs, e)
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%w; cleaning up also failed: %w", err, errors.Join(errs...))
			}
			return err
		}
		added = append(added, p)
	}
	return nil
}

// push installs p on top of its key's stack.
func (b *Backend) push(p engine.Policy) error {
	k := policyKey{p.Dir, p.Selector}
	stack := b.policies[k]
	switch {
	case len(stack) == 0:
		if err := b.h.XfrmPolicyAdd(kernelPolicy(p)); err != nil {
			return wrap(err, "add policy", p.String(), firstProto(p), !p.Is4())
		}
		b.porder = append(b.porder, k)
	case !samePolicy(stack[len(stack)-1], p):
		if err := b.h.XfrmPolicyUpdate(kernelPolicy(p)); err != nil {
			return wrap(err, "replace policy", p.String(), firstProto(p), !p.Is4())
		}
	}
	p.Protocols = slices.Clone(p.Protocols)
	b.policies[k] = append(stack, p)
	return nil
}

// pop takes p (the topmost equal one) off its key's stack and leaves the
// kernel with the policy below, or with none. A policy we do not hold is
// ENOENT, as the kernel says.
func (b *Backend) pop(p engine.Policy) error {
	k := policyKey{p.Dir, p.Selector}
	stack := b.policies[k]
	i := len(stack) - 1
	for i >= 0 && !samePolicy(stack[i], p) {
		i--
	}
	if i < 0 {
		return wrap(unix.ENOENT, "remove policy", p.String(), firstProto(p), !p.Is4())
	}
	top := stack[len(stack)-1]
	rest := slices.Delete(slices.Clone(stack), i, i+1)
	switch {
	case len(rest) == 0:
		if err := b.h.XfrmPolicyDel(kernelPolicy(p)); err != nil && !errors.Is(err, unix.ENOENT) {
			return wrap(err, "remove policy", p.String(), firstProto(p), !p.Is4())
		}
		b.forget(k)
		return nil
	case !samePolicy(rest[len(rest)-1], top):
		q := rest[len(rest)-1]
		if err := b.h.XfrmPolicyUpdate(kernelPolicy(q)); err != nil {
			return wrap(err, "restore policy", q.String(), firstProto(q), !q.Is4())
		}
	}
	b.policies[k] = rest
	return nil
}

// samePolicy: the kernel would hold the same policy for both.
func samePolicy(a, b engine.Policy) bool {
	return a.Dir == b.Dir && a.Selector == b.Selector && a.Mode == b.Mode && a.Local == b.Local &&
		a.Remote == b.Remote && slices.Equal(a.Protocols, b.Protocols) && a.ReqID == b.ReqID && priority(a) == priority(b)
}

// RemovePolicies removes policies; it tries every one.
func (b *Backend) RemovePolicies(ps []engine.Policy) error {
	if b.h == nil {
		return errNotOpen
	}
	var errs []error
	for _, p := range ps {
		if err := b.pop(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *Backend) forget(k policyKey) {
	delete(b.policies, k)
	b.porder = slices.DeleteFunc(b.porder, func(o policyKey) bool { return o == k })
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
