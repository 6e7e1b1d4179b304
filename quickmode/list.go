package quickmode

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

// BeginList prepares ikectl list-sas's listing of n ISAKMP SAs
// (daemon.ChildLister), off the loop: the engine's byte counters are
// taken here (Traffic), once for the listing. What it returns lists, on
// the loop, the bundles installed on sa, oldest first, or with sa nil the
// detached ones whose ISAKMP SA the peer deleted. Algorithms are named,
// keys never are.
func (rt *Manager) BeginList(n int) func(sa *daemon.SA, now time.Time) []control.ChildSA {
	var bytes func(engine.SARef) (uint64, bool)
	if rt.Traffic != nil {
		bytes = rt.Traffic(n)
	}
	return func(sa *daemon.SA, now time.Time) []control.ChildSA {
		list := rt.detached
		if sa != nil {
			list = rt.children[sa]
		}
		out := make([]control.ChildSA, 0, len(list))
		for _, ch := range list {
			out = append(out, listChild(ch, now, bytes))
		}
		return out
	}
}

// CountChildren calls f with the connection and state of each bundle
// BeginList's function would list, without describing it (daemon.ChildLister):
// what a metrics scrape counts, with no look-up of the kernel's counters.
func (rt *Manager) CountChildren(sa *daemon.SA, f func(conn, state string)) {
	list := rt.detached
	if sa != nil {
		list = rt.children[sa]
	}
	for _, ch := range list {
		f(ch.Conn, ch.state())
	}
}

// state is the bundle's state as list-sas and the metrics name it.
func (ch *Child) state() string {
	if ch.rekeying {
		return "rekeying"
	}
	return "installed"
}

func listChild(ch *Child, now time.Time, bytes func(engine.SARef) (uint64, bool)) control.ChildSA {
	c := control.ChildSA{
		Conn: ch.Conn, MessageID: ch.MessageID, ReqID: ch.ReqID, Role: ch.Role.String(),
		State: ch.state(), Mode: ch.Mode.String(),
		Local: ch.Local.String(), Remote: ch.Remote.String(),
		LocalTS:     tsText(ch.Selector.Local, ch.Selector.Protocol, ch.Selector.LocalPort),
		RemoteTS:    tsText(ch.Selector.Remote, ch.Selector.Protocol, ch.Selector.RemotePort),
		LifeSeconds: ch.Lifetime.HardSeconds, LifeKBytes: ch.Lifetime.HardKBytes,
		RekeySeconds: ch.Lifetime.SoftSeconds, RekeyKBytes: ch.Lifetime.SoftKBytes,
		Installed: ch.Installed, Age: now.Sub(ch.Installed),
	}
	if ch.Encap != nil {
		c.Encap = fmt.Sprintf("udp %d:%d", ch.Encap.LocalPort, ch.Encap.RemotePort)
		if oa := ch.Encap.OriginalAddress; oa.IsValid() {
			c.Encap += " oa " + oa.String()
		}
	}
	if ch.PFS != 0 {
		c.PFS = ch.PFS.String()
	}
	if s := ch.Lifetime.SoftSeconds; s != 0 {
		d := max(ch.Installed.Add(time.Duration(s)*time.Second).Sub(now), 0)
		c.RekeyIn = &d
	}
	if h := ch.Lifetime.HardSeconds; h != 0 {
		d := max(ch.Installed.Add(time.Duration(h)*time.Second).Sub(now), 0)
		c.ExpiresIn = &d
	}
	for _, dir := range []string{"in", "out"} {
		for _, s := range ch.SAs {
			ref := engine.SARef{Protocol: engineProto(s.Protocol), SPI: s.SPIOut, Src: ch.Local, Dst: ch.Remote}
			if dir == "in" {
				ref = engine.SARef{Protocol: engineProto(s.Protocol), SPI: s.SPIIn, Src: ch.Remote, Dst: ch.Local}
			}
			e := control.IPsecSA{Direction: dir, Protocol: xfrmProto(s.Protocol), SPI: fmt.Sprintf("0x%08x", ref.SPI),
				Src: ref.Src.String(), Dst: ref.Dst.String()}
			if s.Cipher != "" {
				e.Encryption = isakmp.TransformIDString(s.Protocol, s.Transform.ID)
				if s.Transform.KeyLength != 0 {
					e.Encryption += fmt.Sprintf("/%d", s.Transform.KeyLength)
				}
				e.Encryption += " " + s.Cipher
			}
			if s.Integrity != "" {
				name := s.Transform.Auth.String()
				if s.Protocol == isakmp.ProtoAH {
					name = isakmp.TransformIDString(s.Protocol, s.Transform.ID)
				}
				e.Integrity = fmt.Sprintf("%s %s/%d", name, s.Integrity, s.TruncBits)
			}
			if s.Compression != "" {
				e.Compression = isakmp.TransformIDString(s.Protocol, s.Transform.ID) + " " + s.Compression
			}
			if bytes != nil {
				if n, ok := bytes(ref); ok {
					e.Bytes = &n
				}
			}
			c.SAs = append(c.SAs, e)
		}
	}
	return c
}

// xfrmProto names a protocol as `ip xfrm state` does.
func xfrmProto(p isakmp.ProtocolID) string {
	switch p {
	case isakmp.ProtoIPCOMP:
		return "comp"
	}
	return strings.ToLower(engineProto(p).String())
}

// tsText prints one side of a selector as strongSwan prints a traffic
// selector: the prefix ("any" for none), then [protocol/port] when either
// is restricted.
func tsText(p netip.Prefix, proto uint8, port uint16) string {
	s := "any"
	if p.IsValid() {
		s = p.String()
	}
	if proto == 0 && port == 0 {
		return s
	}
	pr := fmt.Sprint(proto)
	switch proto {
	case 0:
		pr = "any"
	case 1:
		pr = "icmp"
	case 6:
		pr = "tcp"
	case 17:
		pr = "udp"
	case 58:
		pr = "ipv6-icmp"
	}
	if port == 0 {
		return s + "[" + pr + "]"
	}
	return fmt.Sprintf("%s[%s/%d]", s, pr, port)
}
