package quickmode

import (
	"net/netip"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/notify"
)

// appendUpFields appends to fs the facts of a new bundle that the
// ipsec-up event carries beyond the "IPsec SA established" line's own: the
// gateways and identities, the first SA's protocol, SPIs and integrity
// algorithm with its truncation, the reqid, NAT-T, the Mode Config address
// (the peer's lease, or ours as a client, with the DNS servers we were
// given), the bundle a rekey replaces and how long the negotiation took.
// The metrics and the updown scripts (daemon/observe.go) read them from the
// event. They are 18 at most: with the line's own six, a notify.Fields
// holds them without growing.
func (x *Exchange) appendUpFields(fs []zap.Field, env Env, c *Child, t *upTexts) []zap.Field {
	fs = append(fs,
		zap.String("local-gw", t.localGW), zap.String("remote-gw", t.remoteGW),
		zap.Uint32("reqid", c.ReqID), zap.Bool("nat-t", c.Encap != nil),
	)
	if x.P1 != nil {
		fs = append(fs, zap.String("local-id", x.P1.LocalIDText), zap.String("remote-id", x.P1.RemoteIDText))
	}
	if len(c.SAs) > 0 {
		s := c.SAs[0]
		fs = append(fs, zap.String("protocol", lowerProto(engineProto(s.Protocol))),
			zap.String("spi-in", t.spiIn), zap.String("spi-out", t.spiOut))
		if s.Integrity != "" {
			fs = append(fs, zap.String("integrity", t.integrity))
		}
	}
	if a := x.cfg.virtualIP(x.P1); a.IsValid() {
		fs = append(fs, zap.String("virtual-ip", a.String()))
		if x.Conn != nil && x.Conn.ModeConfig != nil && x.Conn.ModeConfig.Request {
			dns, domain := x.cfg.VirtualIPs.DNS(daemon.Cookies{I: x.P1.ICookie, R: x.P1.RCookie})
			var list []string
			for _, d := range dns {
				list = append(list, d.String())
			}
			fs = append(fs, zap.String("dns", strings.Join(list, " ")), zap.String("domain", domain))
		}
	}
	if x.rekeys != nil {
		fs = append(fs, zap.String("rekeys", spiText(x.rekeys)))
	}
	if !x.began.IsZero() {
		fs = append(fs, zap.Float64("negotiation-seconds", env.Now.Sub(x.began).Seconds()))
	}
	return append(fs, notify.EventField(notify.EventIPsecUp))
}

// upTexts are the texts of the "IPsec SA established" line and its
// ipsec-up event that are made for each bundle: appended to one buffer
// and made one string, which each field takes a part of, rather than ten
// strings (docs/performance.md). Each is the text its own formatting gave:
// selectorText, Addr.String, spiText, spiHex, integrity/truncation.
type upTexts struct {
	local, remote, spis, localGW, remoteGW, spiIn, spiOut, integrity string
}

func (x *Exchange) upTexts(c *Child) upTexts {
	var buf [256]byte
	var ends [8]int
	b := x.Local.AppendTo(buf[:0])
	ends[0] = len(b)
	b = x.Remote.AppendTo(b)
	ends[1] = len(b)
	b = appendSPIText(b, c)
	ends[2] = len(b)
	b = appendAddrText(b, c.Local)
	ends[3] = len(b)
	b = appendAddrText(b, c.Remote)
	ends[4] = len(b)
	if len(c.SAs) > 0 {
		s := c.SAs[0]
		b = appendSPIHex(b, s.SPIIn)
		ends[5] = len(b)
		b = appendSPIHex(b, s.SPIOut)
		ends[6] = len(b)
		if s.Integrity != "" {
			b = strconv.AppendInt(append(append(b, s.Integrity...), '/'), int64(s.TruncBits), 10)
		}
	} else {
		ends[5], ends[6] = len(b), len(b)
	}
	ends[7] = len(b)
	all := string(b)
	part := func(i int) string {
		if i == 0 {
			return all[:ends[0]]
		}
		return all[ends[i-1]:ends[i]]
	}
	return upTexts{local: part(0), remote: part(1), spis: part(2), localGW: part(3), remoteGW: part(4),
		spiIn: part(5), spiOut: part(6), integrity: part(7)}
}

// appendAddrText appends a.String() ("invalid IP" for the zero Addr, of
// which AppendTo writes nothing).
func appendAddrText(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "invalid IP"...)
	}
	return a.AppendTo(b)
}

// lowerProto is strings.ToLower(p.String()) without a new string for the
// three protocols.
func lowerProto(p engine.Protocol) string {
	if s, ok := lowerProtos[p]; ok {
		return s
	}
	return strings.ToLower(p.String())
}

var lowerProtos = map[engine.Protocol]string{engine.ProtoESP: "esp", engine.ProtoAH: "ah", engine.ProtoIPComp: "ipcomp"}

// logGone writes the ipsec-down line of bundles removed for why (our
// Delete, the peer's, the hard lifetime, the ISAKMP SA's end).
func logGone(log *notify.Logger, children []*Child, why string) {
	if log == nil {
		return
	}
	for _, ch := range children {
		log.Info("IPsec SA deleted", zap.String("conn", ch.Conn), zap.String("spis", spiText(ch)),
			zap.String("reason", why), notify.EventField(notify.EventIPsecDown))
	}
}
