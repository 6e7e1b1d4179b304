//go:build linux

package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// AllocSPI asks the kernel for an unused SPI in r's range
// (XFRM_MSG_ALLOCSPI). The kernel keeps a larval SA with it until Install
// completes it (XFRM_MSG_UPDSA) or it times out (net.core.xfrm_acq_expires).
// The library's ALLOCSPI has a fixed range and no handle, so the request is
// built here.
func (b *Backend) AllocSPI(r *engine.AllocSPI) (uint32, error) {
	if b.h == nil {
		return 0, errNotOpen
	}
	lo, hi, err := r.Range()
	if err != nil {
		return 0, err
	}
	if !r.Src.IsValid() || !r.Dst.IsValid() || r.Src.Is4() != r.Dst.Is4() {
		return 0, fmt.Errorf("xfrm engine: allocate SPI: bad addresses %s -> %s", r.Src, r.Dst)
	}
	// struct xfrm_userspi_info: an xfrm_usersa_info naming the SA, then
	// min and max (linux/xfrm.h).
	msg := &nl.XfrmUserSpiInfo{Min: lo, Max: hi}
	info := &msg.XfrmUsersaInfo
	info.Family = family(r.Dst)
	info.Id.Daddr.FromIP(r.Dst.AsSlice())
	info.Saddr.FromIP(r.Src.AsSlice())
	info.Id.Proto = uint8(r.Protocol)
	kr, err := kernelReqID(r.ReqID)
	if err != nil {
		return 0, err
	}
	info.Reqid = kr
	req := b.request(nl.XFRM_MSG_ALLOCSPI, 0)
	req.AddData(msg)
	what := fmt.Sprintf("%s %s->%s", r.Protocol, r.Src, r.Dst)
	msgs, err := req.Execute(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWSA)
	if err != nil {
		return 0, wrap(err, "allocate SPI", what, r.Protocol, r.Dst.Is6())
	}
	// The answer is the larval SA (XFRM_MSG_NEWSA with an xfrm_usersa_info).
	if len(msgs) == 0 || len(msgs[0]) < nl.SizeofXfrmUsersaInfo {
		return 0, fmt.Errorf("xfrm engine: allocate SPI %s: short answer", what)
	}
	spi := binary.BigEndian.Uint32(msgs[0][offSAID+16:])
	if spi < lo || spi > hi {
		return 0, fmt.Errorf("xfrm engine: allocate SPI %s: kernel gave 0x%x outside 0x%x-0x%x", what, spi, lo, hi)
	}
	ref := engine.SARef{Protocol: r.Protocol, SPI: spi, Src: r.Src, Dst: r.Dst}
	b.larval[keyOf(ref)] = ref
	return spi, nil
}

// Offsets in struct xfrm_usersa_info (linux/xfrm.h): the selector (56 bytes),
// then the xfrm_id (daddr 16, spi 4, proto 1, padding), saddr, lifetimes...
const (
	offSAID      = 56
	offSASaddr   = 80
	offSAReqid   = 208
	offSAFamily  = 212
	offSAMode    = 214
	sizeSelector = 56
)

func family(a interface{ Is4() bool }) uint16 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// dropAcquire removes the kernel's placeholder SA of an ACQUIRE. It has
// SPI 0, and XFRM_MSG_DELSA finds ESP, AH and IPComp SAs only by SPI
// (xfrm_user_state_lookup in net/xfrm/xfrm_user.c), so it first gets one:
// XFRM_MSG_ALLOCSPI naming its mode, reqid, protocol and addresses gives
// the SPI to that very SA (xfrm_find_acq), which can then be deleted.
func (b *Backend) dropAcquire(s *netlink.XfrmState) error {
	msg := &nl.XfrmUserSpiInfo{Min: 0x100, Max: 0xffffffff}
	info := &msg.XfrmUsersaInfo
	info.Family = unix.AF_INET
	if s.Dst.To4() == nil {
		info.Family = unix.AF_INET6
	}
	info.Id.Daddr.FromIP(s.Dst)
	info.Saddr.FromIP(s.Src)
	info.Id.Proto = uint8(s.Proto)
	info.Mode = uint8(s.Mode)
	info.Reqid = uint32(s.Reqid)
	req := b.request(nl.XFRM_MSG_ALLOCSPI, 0)
	req.AddData(msg)
	msgs, err := req.Execute(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWSA)
	if err != nil {
		return err
	}
	if len(msgs) == 0 || len(msgs[0]) < nl.SizeofXfrmUsersaInfo {
		return fmt.Errorf("xfrm engine: allocate SPI: short answer")
	}
	d := *s
	d.Spi = int(binary.BigEndian.Uint32(msgs[0][offSAID+16:]))
	if err := b.h.XfrmStateDel(&d); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}
