package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// Where struct xfrm_usersa_info (linux/xfrm.h) keeps what a listing
// reads, after the selector: the xfrm_id (daddr 16 bytes, spi, proto) at
// offSAID, and the current lifetime's byte counter (struct
// xfrm_lifetime_cur, in host order) after saddr and the configured
// lifetime (8 x u64).
const (
	offSASPI      = offSAID + 16
	offSAProto    = offSAID + 20
	offSACurBytes = offSASaddr + 16 + 64
)

// openCounters opens the netlink socket of Bytes and ByteCounts in the
// backend's namespace.
func (b *Backend) openCounters() error {
	s, err := nl.GetNetlinkSocketAt(b.opts.Namespace, netns.None(), unix.NETLINK_XFRM)
	if err != nil {
		return fmt.Errorf("xfrm netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(b.opts.Timeout.Nanoseconds())
	if err := s.SetSendTimeout(&tv); err != nil {
		s.Close()
		return err
	}
	if err := s.SetReceiveTimeout(&tv); err != nil {
		s.Close()
		return err
	}
	b.countMu.Lock()
	b.counters = &nl.SocketHandle{Socket: s}
	b.countMu.Unlock()
	return nil
}

func (b *Backend) closeCounters() {
	b.countMu.Lock()
	defer b.countMu.Unlock()
	if b.counters != nil {
		b.counters.Close()
		b.counters = nil
	}
}

// counterRequest starts a request on the counters' socket; countMu held.
func (b *Backend) counterRequest(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr), Type: uint16(typ), Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_XFRM: b.counters},
	}
}

// Bytes is the kernel's byte counter of the SA ref names (one
// XFRM_MSG_GETSA, what `ip -s xfrm state get` shows), for ikectl
// list-sas. Any goroutine may call it: it asks on a socket of its own,
// opened by Open, so that a listing neither waits for the engine's
// requests nor delays them, and no socket is made per question. It
// reports false for an SA the kernel does not have, for IPComp (whose
// counters are not the traffic's), once the backend is closed, and
// without asking while a ByteCounts dump holds the socket (the daemon's
// loop calls it and must not wait for one).
func (b *Backend) Bytes(ref engine.SARef) (uint64, bool) {
	if ref.Protocol == engine.ProtoIPComp || !ref.Dst.IsValid() {
		return 0, false
	}
	if !b.countMu.TryLock() {
		return 0, false
	}
	defer b.countMu.Unlock()
	if b.counters == nil {
		return 0, false
	}
	id := &nl.XfrmUsersaId{Family: family(ref.Dst), Proto: uint8(ref.Protocol), Spi: nl.Swap32(ref.SPI)}
	id.Daddr.FromIP(ref.Dst.AsSlice())
	req := b.counterRequest(nl.XFRM_MSG_GETSA, 0)
	// The kernel finds an ESP or AH SA by (daddr, spi, proto) alone
	// (xfrm_user_state_lookup in net/xfrm/xfrm_user.c): no source.
	req.AddData(id)
	msgs, err := req.Execute(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWSA)
	if err != nil || len(msgs) == 0 || len(msgs[0]) < nl.SizeofXfrmUsersaInfo {
		return 0, false
	}
	_, n, ok := usersaCount(msgs[0])
	return n, ok
}

// ByteCounts takes the byte counter of every SA in the namespace in one
// XFRM_MSG_GETSA dump (what `ip -s xfrm state` reads) and returns its
// look-up, for a listing of many SAs: one request for the whole listing,
// on the counters' socket, where Bytes makes one per SA. Any goroutine
// may call it (stack.Counters calls it off the daemon's loop). The
// look-up, which the loop calls, asks Bytes for an SA the dump did not
// hold (installed since). A dump the kernel reports as interrupted (SAs
// added or removed meanwhile) still counts every SA it gave.
func (b *Backend) ByteCounts() (func(engine.SARef) (uint64, bool), error) {
	b.countMu.Lock()
	defer b.countMu.Unlock()
	if b.counters == nil {
		return nil, errNotOpen
	}
	counts := map[saKey]uint64{}
	req := b.counterRequest(nl.XFRM_MSG_GETSA, unix.NLM_F_DUMP)
	err := req.ExecuteIter(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWSA, func(msg []byte) bool {
		if k, n, ok := usersaCount(msg); ok {
			counts[k] = n
		}
		return true
	})
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, wrap(err, "list", "SAs", 0, false)
	}
	return func(ref engine.SARef) (uint64, bool) {
		if ref.Protocol == engine.ProtoIPComp {
			return 0, false
		}
		if n, ok := counts[keyOf(ref)]; ok {
			return n, true
		}
		return b.Bytes(ref)
	}, nil
}

// usersaCount reads an SA's key and byte counter from a message that
// starts with its struct xfrm_usersa_info.
func usersaCount(msg []byte) (saKey, uint64, bool) {
	if len(msg) < nl.SizeofXfrmUsersaInfo {
		return saKey{}, 0, false
	}
	var dst netip.Addr
	switch nl.NativeEndian().Uint16(msg[offSAFamily:]) {
	case unix.AF_INET:
		dst = netip.AddrFrom4([4]byte(msg[offSAID : offSAID+4]))
	case unix.AF_INET6:
		dst = netip.AddrFrom16([16]byte(msg[offSAID : offSAID+16]))
	default:
		return saKey{}, 0, false
	}
	k := saKey{proto: engine.Protocol(msg[offSAProto]), spi: binary.BigEndian.Uint32(msg[offSASPI:]), dst: dst}
	return k, nl.NativeEndian().Uint64(msg[offSACurBytes:]), true
}
