//go:build linux

package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// monitor reads the kernel's ACQUIRE and EXPIRE multicasts until Close.
func (b *Backend) monitor() {
	defer close(b.monDone)
	for {
		msgs, from, err := b.mon.Receive()
		if b.closed.Load() {
			return
		}
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				// The socket overflowed: events were lost, the rest still flow.
				b.note(engine.Event{Kind: engine.EventBackendError, Err: fmt.Errorf("xfrm monitor: %w: kernel events lost", err)})
				continue
			}
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			b.note(engine.Event{Kind: engine.EventBackendError, Err: fmt.Errorf("xfrm monitor stopped: %w", err)})
			return
		}
		if from.Pid != nl.PidKernel {
			continue
		}
		for _, m := range msgs {
			if b.rawHook != nil {
				b.rawHook(m)
			}
			if ev, ok := decode(m); ok {
				b.note(ev)
			}
		}
	}
}

// note delivers a volunteered event, waiting while the engine is busy
// (the kernel's socket buffer holds the next ones) but never past Close.
func (b *Backend) note(ev engine.Event) {
	select {
	case b.notes <- ev:
	case <-b.stop:
	}
}

func decode(m syscall.NetlinkMessage) (engine.Event, bool) {
	switch m.Header.Type {
	case nl.XFRM_MSG_ACQUIRE:
		a, err := DecodeAcquire(m.Data)
		if err != nil {
			return engine.Event{Kind: engine.EventBackendError, Err: err}, true
		}
		r, ours := engineReqID(a.ReqID)
		if !ours {
			return engine.Event{}, false // another daemon's policy
		}
		a.ReqID, a.Policy.ReqID = r, r
		return engine.Event{Kind: engine.EventAcquire, Protocol: a.Protocol, Acquire: a}, true
	case nl.XFRM_MSG_EXPIRE:
		x, err := DecodeExpire(m.Data)
		if err != nil {
			return engine.Event{Kind: engine.EventBackendError, Err: err}, true
		}
		r, ours := engineReqID(x.ReqID)
		if !ours {
			return engine.Event{}, false // another daemon's SA
		}
		x.ReqID = r
		kind := engine.EventExpireSoft
		if x.Hard {
			kind = engine.EventExpireHard
		}
		return engine.Event{Kind: kind, Protocol: x.SA.Protocol, SPI: x.SA.SPI, Expire: x}, true
	}
	return engine.Event{}, false
}

// Layout of struct xfrm_user_acquire (linux/xfrm.h): xfrm_id (24), saddr
// (16), the packet's xfrm_selector (56), the policy's xfrm_userpolicy_info
// (168), then aalgos, ealgos, calgos and seq; attributes follow, among them
// XFRMA_TMPL with the policy's templates.
const (
	offAcqSaddr  = 24
	offAcqSel    = 40
	offAcqPolicy = 96
	offAcqSeq    = 276
	sizeAcquire  = 280

	// struct xfrm_userpolicy_info: selector (56), lifetime cfg (64) and
	// cur (32), priority, index, dir, action, flags, share.
	offPolDir   = 160
	sizeUserTmp = 64
	offExpHard  = 224 // struct xfrm_user_expire: xfrm_usersa_info, then hard
)

var errShort = errors.New("xfrm engine: short kernel message")

// DecodeAcquire decodes an XFRM_MSG_ACQUIRE body, checking every length;
// the library has no decoder for it.
func DecodeAcquire(d []byte) (*engine.Acquire, error) {
	if len(d) < sizeAcquire {
		return nil, fmt.Errorf("%w: acquire of %d bytes", errShort, len(d))
	}
	sel, err := decodeSelector(d[offAcqSel : offAcqSel+sizeSelector])
	if err != nil {
		return nil, err
	}
	fam := binary.NativeEndian.Uint16(d[offAcqSel+40:])
	a := &engine.Acquire{
		Selector: sel,
		Remote:   addr(d[0:16], fam),
		Local:    addr(d[offAcqSaddr:offAcqSaddr+16], fam),
		Protocol: engine.Protocol(d[20]),
		Seq:      binary.NativeEndian.Uint32(d[offAcqSeq:]),
	}
	pol := d[offAcqPolicy : offAcqPolicy+168]
	psel, err := decodeSelector(pol[:sizeSelector])
	if err != nil {
		return nil, err
	}
	a.Policy = engine.Policy{Dir: engine.Direction(pol[offPolDir]), Selector: psel}
	attrs, err := parseAttrs(d[sizeAcquire:])
	if err != nil {
		return nil, fmt.Errorf("xfrm engine: acquire attributes: %w", err)
	}
	for _, at := range attrs {
		if at.typ != nl.XFRMA_TMPL {
			continue
		}
		for t := at.value; len(t) >= sizeUserTmp; t = t[sizeUserTmp:] {
			// struct xfrm_user_tmpl: xfrm_id (24), family (2, padded), saddr
			// (16), reqid, mode, share, optional, the algorithm masks.
			tfam := binary.NativeEndian.Uint16(t[24:])
			p := engine.Protocol(t[20])
			a.Policy.Protocols = append(a.Policy.Protocols, p)
			if len(a.Policy.Protocols) == 1 {
				a.ReqID = binary.NativeEndian.Uint32(t[44:])
				a.Mode = engine.Mode(t[48])
				a.Policy.ReqID, a.Policy.Mode = a.ReqID, a.Mode
				if a.Mode == engine.ModeTunnel {
					a.Policy.Remote = addr(t[0:16], tfam)
					a.Policy.Local = addr(t[28:44], tfam)
				}
			}
		}
	}
	return a, nil
}

type attr struct {
	typ   uint16
	value []byte
}

// parseAttrs splits netlink attributes (struct nlattr: length, type, value,
// padded to 4 bytes), checking every length; the library's ParseRouteAttr
// can slice past the end of a malformed buffer.
func parseAttrs(b []byte) ([]attr, error) {
	var out []attr
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("attribute length %d of %d bytes", n, len(b))
		}
		out = append(out, attr{typ: binary.NativeEndian.Uint16(b[2:]) &^ unix.NLA_F_NESTED &^ unix.NLA_F_NET_BYTEORDER, value: b[4:n]})
		b = b[min((n+3)&^3, len(b)):]
	}
	return out, nil
}

// DecodeExpire decodes an XFRM_MSG_EXPIRE body (struct xfrm_user_expire).
func DecodeExpire(d []byte) (*engine.Expire, error) {
	if len(d) < offExpHard+1 {
		return nil, fmt.Errorf("%w: expire of %d bytes", errShort, len(d))
	}
	fam := binary.NativeEndian.Uint16(d[offSAFamily:])
	return &engine.Expire{
		SA: engine.SARef{
			Protocol: engine.Protocol(d[offSAID+20]),
			SPI:      binary.BigEndian.Uint32(d[offSAID+16:]),
			Dst:      addr(d[offSAID:offSAID+16], fam),
			Src:      addr(d[offSASaddr:offSASaddr+16], fam),
		},
		ReqID: binary.NativeEndian.Uint32(d[offSAReqid:]),
		Hard:  d[offExpHard] != 0,
	}, nil
}

// decodeSelector reads a struct xfrm_selector: daddr, saddr, dport,
// dport_mask, sport, sport_mask (network order), family, prefix lengths,
// proto. The kernel's source is our Local.
func decodeSelector(s []byte) (engine.Selector, error) {
	fam := binary.NativeEndian.Uint16(s[40:])
	if fam != unix.AF_INET && fam != unix.AF_INET6 && fam != unix.AF_UNSPEC {
		return engine.Selector{}, fmt.Errorf("xfrm engine: selector family %d", fam)
	}
	var sel engine.Selector
	if fam == unix.AF_UNSPEC {
		return sel, nil
	}
	pd, ps := int(s[42]), int(s[43])
	var err error
	if sel.Remote, err = addr(s[0:16], fam).Prefix(pd); err != nil {
		return sel, fmt.Errorf("xfrm engine: selector prefix /%d: %w", pd, err)
	}
	if sel.Local, err = addr(s[16:32], fam).Prefix(ps); err != nil {
		return sel, fmt.Errorf("xfrm engine: selector prefix /%d: %w", ps, err)
	}
	sel.RemotePort = binary.BigEndian.Uint16(s[32:])
	sel.LocalPort = binary.BigEndian.Uint16(s[36:])
	sel.Protocol = s[44]
	return sel, nil
}

// addr reads an xfrm_address_t of the family.
func addr(b []byte, fam uint16) netip.Addr {
	if fam == unix.AF_INET6 {
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.AddrFrom4([4]byte(b[:4]))
}
