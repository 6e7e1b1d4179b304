//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// Install adds every SA of a validated bundle: inbound first (completing the
// larval SAs AllocSPI left), then outbound. If any fails, it deletes the
// ones it added and the bundle's SPI reservations, so that nothing of the
// bundle remains, and returns the kernel's reason.
func (b *Backend) Install(bd *engine.Bundle) error {
	if b.h == nil {
		return errNotOpen
	}
	if _, err := kernelReqID(bd.ReqID); err != nil {
		return err
	}
	var added []engine.SARef
	fail := func(err error) error {
		var errs []error
		for _, ref := range added {
			if e := b.delSA(ref); e != nil {
				errs = append(errs, e)
			}
			delete(b.sas, keyOf(ref))
		}
		for _, s := range bd.Inbound {
			ref := engine.SARef{Protocol: s.Protocol, SPI: s.SPI, Src: bd.Remote, Dst: bd.Local}
			if _, ok := b.larval[keyOf(ref)]; ok {
				b.delSA(ref) // the larval SA; may have timed out already
				delete(b.larval, keyOf(ref))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w; cleaning up also failed: %w", err, errors.Join(errs...))
		}
		return err
	}
	for _, dir := range []struct {
		sas     []engine.SA
		inbound bool
	}{{bd.Inbound, true}, {bd.Outbound, false}} {
		for _, s := range dir.sas {
			ref, err := b.addSA(bd, dir.sas, s, dir.inbound)
			if err != nil {
				return fail(err)
			}
			added = append(added, ref)
			b.sas[keyOf(ref)] = ref
		}
	}
	return nil
}

// addSA adds one SA. An inbound SA whose SPI we allocated replaces its
// larval SA (XFRM_MSG_UPDSA); if that one expired meanwhile (ESRCH), or for
// a manual SPI, it is a new SA (XFRM_MSG_NEWSA).
func (b *Backend) addSA(bd *engine.Bundle, chain []engine.SA, s engine.SA, inbound bool) (engine.SARef, error) {
	src, dst := bd.Local, bd.Remote
	if inbound {
		src, dst = bd.Remote, bd.Local
	}
	ref := engine.SARef{Protocol: s.Protocol, SPI: s.SPI, Src: src, Dst: dst}
	_, larval := b.larval[keyOf(ref)]
	update := inbound && larval
	what := ref.String()

	if s.Protocol == engine.ProtoIPComp || (s.Protocol == engine.ProtoAH && dst.Is4()) {
		err := b.addRaw(bd, chain, s, src, dst, update)
		if update && errors.Is(err, unix.ESRCH) {
			err = b.addRaw(bd, chain, s, src, dst, false)
		}
		if err != nil {
			op := "add SA"
			if update {
				op = "update SA"
			}
			return ref, wrap(err, op, what, s.Protocol, dst.Is6())
		}
		delete(b.larval, keyOf(ref))
		return ref, nil
	}

	st := &netlink.XfrmState{
		Src: src.AsSlice(), Dst: dst.AsSlice(), Proto: netlink.Proto(s.Protocol),
		Mode: netlink.Mode(bd.SAMode(chain, s.Protocol)), Spi: int(s.SPI), Reqid: int(ReqIDBase + bd.ReqID),
		ReplayWindow: int(bd.ReplayWindow),
		Limits:       limits(bd.Lifetime),
	}
	if bd.Mode == engine.ModeTransport {
		st.Selector = selectorPolicy(bd.Selector, inbound)
	}
	if c := s.Encryption; c != nil {
		algo := &netlink.XfrmStateAlgo{Name: c.Name, Key: []byte(c.Key)}
		if c.AEAD() {
			algo.ICVLen = c.ICVBits
			st.Aead = algo
		} else {
			st.Crypt = algo
		}
	}
	if a := s.Integrity; a != nil {
		st.Auth = &netlink.XfrmStateAlgo{Name: a.Name, Key: []byte(a.Key), TruncateLen: a.TruncBits}
	}
	if bd.Encap != nil && s.Protocol == engine.ProtoESP {
		// RFC 3948, 2.1: ESP in UDP; the ports are the IKE peers' NAT-T ports.
		sport, dport := bd.Encap.LocalPort, bd.Encap.RemotePort
		if inbound {
			sport, dport = dport, sport
		}
		st.Encap = &netlink.XfrmStateEncap{Type: netlink.XFRM_ENCAP_ESPINUDP, SrcPort: int(sport), DstPort: int(dport)}
		if oa := bd.Encap.OriginalAddress; oa.IsValid() && oa.Is4() == dst.Is4() {
			// The peer's NAT-OA (RFC 3947, 5.2) on both SAs of the pair,
			// as encap_oa: `ip xfrm state` shows it as "oa".
			st.Encap.OriginalAddress = oa.AsSlice()
		}
	}
	var err error
	op := "add SA"
	if update {
		op = "update SA"
		err = b.h.XfrmStateUpdate(st)
		if errors.Is(err, unix.ESRCH) {
			op = "add SA"
			err = b.h.XfrmStateAdd(st)
		}
	} else {
		err = b.h.XfrmStateAdd(st)
	}
	if err != nil {
		return ref, wrap(err, op, what, s.Protocol, dst.Is6())
	}
	delete(b.larval, keyOf(ref))
	return ref, nil
}

// addRaw adds what the library cannot express: an IPComp SA (RFC 3173)
// with its XFRMA_ALG_COMP attribute, and an IPv4 AH SA with
// XFRM_STATE_ALIGN4, whose ICV is padded to 32 bits as RFC 4302, 2.6 asks
// for IPv4 (Linux pads to 64 bits without the flag, and a peer that
// follows the RFC, strongSwan among them, rejects such packets). The
// message is the same xfrm_usersa_info the library sends for ESP.
func (b *Backend) addRaw(bd *engine.Bundle, chain []engine.SA, s engine.SA, src, dst netip.Addr, update bool) error {
	typ := nl.XFRM_MSG_NEWSA
	if update {
		typ = nl.XFRM_MSG_UPDSA
	}
	req := b.request(typ, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	info := &nl.XfrmUsersaInfo{}
	info.Family = family(dst)
	info.Id.Daddr.FromIP(dst.AsSlice())
	info.Saddr.FromIP(src.AsSlice())
	info.Id.Proto = uint8(s.Protocol)
	info.Id.Spi = nl.Swap32(s.SPI)
	info.Mode = uint8(bd.SAMode(chain, s.Protocol))
	info.Reqid = ReqIDBase + bd.ReqID
	if bd.Mode == engine.ModeTransport {
		inbound := src == bd.Remote && dst == bd.Local
		selToKernel(&info.Sel, bd.Selector, inbound)
	}
	lft := limits(bd.Lifetime)
	info.Lft = nl.XfrmLifetimeCfg{
		SoftByteLimit: inf(lft.ByteSoft), HardByteLimit: inf(lft.ByteHard),
		SoftPacketLimit: nl.XFRM_INF, HardPacketLimit: nl.XFRM_INF,
		SoftAddExpiresSeconds: lft.TimeSoft, HardAddExpiresSeconds: lft.TimeHard,
	}
	if s.Protocol == engine.ProtoAH {
		info.Flags = nl.XFRM_STATE_ALIGN4
		info.ReplayWindow = bd.ReplayWindow
		req.AddData(info)
		a := s.Integrity
		auth := &nl.XfrmAlgoAuth{AlgKeyLen: uint32(len(a.Key) * 8), AlgTruncLen: uint32(a.TruncBits), AlgKey: []byte(a.Key)}
		copy(auth.AlgName[:63], a.Name)
		req.AddData(nl.NewRtAttr(nl.XFRMA_ALG_AUTH_TRUNC, auth.Serialize()))
	} else {
		req.AddData(info)
		algo := &nl.XfrmAlgo{}
		copy(algo.AlgName[:63], s.Compression.Name)
		req.AddData(nl.NewRtAttr(nl.XFRMA_ALG_COMP, algo.Serialize()))
	}
	_, err := req.Execute(unix.NETLINK_XFRM, 0)
	return err
}

func inf(v uint64) uint64 {
	if v == 0 {
		return nl.XFRM_INF
	}
	return v
}

// limits converts RFC 2407 lifetimes (seconds, kilobytes) to XFRM's.
func limits(l engine.Lifetime) netlink.XfrmStateLimits {
	return netlink.XfrmStateLimits{
		TimeSoft: l.SoftSeconds, TimeHard: l.HardSeconds,
		ByteSoft: l.SoftKBytes * 1024, ByteHard: l.HardKBytes * 1024,
	}
}

// Delete removes SAs (and SPI reservations); it tries every one. An SA we
// installed that the kernel no longer has (a hard EXPIRE beat us to it) is
// not an error: it is gone, which is what was asked.
func (b *Backend) Delete(refs []engine.SARef) error {
	if b.h == nil {
		return errNotOpen
	}
	var errs []error
	for _, ref := range refs {
		k := keyOf(ref)
		_, ours := b.sas[k]
		_, reserved := b.larval[k]
		err := b.delSA(ref)
		if err == nil || errors.Is(err, unix.ESRCH) {
			delete(b.sas, k)
			delete(b.larval, k)
		}
		if err != nil && !(errors.Is(err, unix.ESRCH) && (ours || reserved)) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *Backend) delSA(ref engine.SARef) error {
	st := &netlink.XfrmState{Src: ref.Src.AsSlice(), Dst: ref.Dst.AsSlice(), Proto: netlink.Proto(ref.Protocol), Spi: int(ref.SPI)}
	return wrap(b.h.XfrmStateDel(st), "delete SA", ref.String(), ref.Protocol, ref.Dst.Is6())
}

// selectorPolicy expresses a selector as the library's XfrmPolicy for an SA
// (transport mode): outbound Local -> Remote, inbound the reverse.
func selectorPolicy(s engine.Selector, inbound bool) *netlink.XfrmPolicy {
	if inbound {
		s = s.Reverse()
	}
	return &netlink.XfrmPolicy{
		Src: ipNet(s.Local, s.Is4()), Dst: ipNet(s.Remote, s.Is4()),
		Proto: netlink.Proto(s.Protocol), SrcPort: int(s.LocalPort), DstPort: int(s.RemotePort),
	}
}

// selToKernel fills an xfrm_selector the same way.
func selToKernel(sel *nl.XfrmSelector, s engine.Selector, inbound bool) {
	if inbound {
		s = s.Reverse()
	}
	src, dst := ipNet(s.Local, s.Is4()), ipNet(s.Remote, s.Is4())
	sel.Family = family(s)
	sel.Saddr.FromIP(src.IP)
	sel.Daddr.FromIP(dst.IP)
	ls, _ := src.Mask.Size()
	ld, _ := dst.Mask.Size()
	sel.PrefixlenS, sel.PrefixlenD = uint8(ls), uint8(ld)
	sel.Proto = s.Protocol
	if s.LocalPort != 0 {
		sel.Sport, sel.SportMask = nl.Swap16(s.LocalPort), 0xffff
	}
	if s.RemotePort != 0 {
		sel.Dport, sel.DportMask = nl.Swap16(s.RemotePort), 0xffff
	}
}

// ipNet converts a prefix; the zero prefix is "any" of the family.
func ipNet(p netip.Prefix, v4 bool) *net.IPNet {
	if !p.IsValid() {
		if v4 {
			return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
		}
		return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
