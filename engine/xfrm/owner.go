//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// The kernel's SAD and SPD are shared by every IPsec daemon of a network
// namespace, and a daemon that was killed (SIGKILL, a crash) leaves its SAs
// and policies behind. To know its own, the backend puts every reqid it
// gives the kernel in one range: the engine's reqid plus ReqIDBase. Other
// software numbers its reqids from 1 (strongSwan, `ip xfrm` by hand), far
// below. At Open, SAs with a reqid in the range and policies whose
// templates have one are leftovers of an earlier iked: they are removed,
// and nothing else is touched. ACQUIREs and EXPIREs of other software's
// policies and SAs are not reported.
const (
	ReqIDBase  = 0x69000000 // 'i' in the top byte
	reqIDSpan  = 1 << 24
	maxReqID   = reqIDSpan - 1
	reqIDLimit = ReqIDBase + reqIDSpan
)

// kernelReqID is the kernel's reqid for the engine's.
func kernelReqID(r uint32) (uint32, error) {
	if r > maxReqID {
		return 0, fmt.Errorf("xfrm engine: reqid %d above %d", r, maxReqID)
	}
	return ReqIDBase + r, nil
}

// engineReqID is the engine's reqid for a kernel reqid, and whether the
// kernel's is in our range.
func engineReqID(k uint32) (uint32, bool) {
	if k < ReqIDBase || k >= reqIDLimit {
		return 0, false
	}
	return k - ReqIDBase, true
}

// Leftovers is what Open found of an earlier iked in the namespace and
// removed.
type Leftovers struct {
	SAs      []string // "esp 0x12345678 192.0.2.2->192.0.2.1 reqid 1"
	Policies []string // "out 198.51.100.0/24 -> 203.0.113.0/24 reqid 1"
}

// Leftovers returns what the last Open removed.
func (b *Backend) Leftovers() Leftovers { return b.leftovers }

// removeLeftovers deletes the SAs and policies in our reqid range.
func (b *Backend) removeLeftovers() error {
	var errs []error
	pols, err := b.h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		return wrap(err, "list", "policies", 0, false)
	}
	for i := range pols {
		p := &pols[i]
		r, ours := policyReqID(p)
		if !ours {
			continue
		}
		what := fmt.Sprintf("%s %s -> %s reqid %d", engine.Direction(p.Dir), p.Src, p.Dst, r)
		if err := b.h.XfrmPolicyDel(p); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, wrap(err, "remove leftover policy", what, 0, false))
			continue
		}
		b.leftovers.Policies = append(b.leftovers.Policies, what)
	}
	states, err := b.h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		return errors.Join(append(errs, wrap(err, "list", "SAs", 0, false))...)
	}
	for i := range states {
		s := &states[i]
		r, ours := engineReqID(uint32(s.Reqid))
		if !ours {
			continue
		}
		src, _ := netip.AddrFromSlice(s.Src)
		dst, _ := netip.AddrFromSlice(s.Dst)
		ref := engine.SARef{Protocol: engine.Protocol(s.Proto), SPI: uint32(s.Spi), Src: src.Unmap(), Dst: dst.Unmap()}
		what := fmt.Sprintf("%s reqid %d", ref, r)
		if err := b.delSA(ref); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
			continue
		}
		b.leftovers.SAs = append(b.leftovers.SAs, what)
	}
	return errors.Join(errs...)
}

// policyReqID is the engine's reqid of a kernel policy whose templates are
// in our range (all of them: a policy with a foreign template is not ours).
func policyReqID(p *netlink.XfrmPolicy) (uint32, bool) {
	if len(p.Tmpls) == 0 {
		return 0, false
	}
	var r uint32
	for i, t := range p.Tmpls {
		er, ok := engineReqID(uint32(t.Reqid))
		if !ok || (i > 0 && er != r) {
			return 0, false
		}
		r = er
	}
	return r, true
}
