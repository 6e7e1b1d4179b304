package quickmode

import (
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
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
func (x *Exchange) appendUpFields(fs []zap.Field, env Env, c *Child) []zap.Field {
	fs = append(fs,
		zap.String("local-gw", c.Local.String()), zap.String("remote-gw", c.Remote.String()),
		zap.Uint32("reqid", c.ReqID), zap.Bool("nat-t", c.Encap != nil),
	)
	if x.P1 != nil {
		fs = append(fs, zap.String("local-id", x.P1.LocalIDText), zap.String("remote-id", x.P1.RemoteIDText))
	}
	if len(c.SAs) > 0 {
		s := c.SAs[0]
		fs = append(fs, zap.String("protocol", strings.ToLower(engineProto(s.Protocol).String())),
			zap.String("spi-in", spiHex(s.SPIIn)), zap.String("spi-out", spiHex(s.SPIOut)))
		if s.Integrity != "" {
			fs = append(fs, zap.String("integrity", s.Integrity+"/"+strconv.Itoa(s.TruncBits)))
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
