package phase1

import (
	"net/netip"
	"strconv"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// SALog writes the info line an operator looks for when phase 1 comes up,
// as strongSwan's "IKE_SA x[n] established between ..." does: connection,
// role, mode, both ends with their ports, both identities, the negotiated
// transform, lifetime and cookies. It prints no secret: the line is built
// from the SA's public fields only (never Keys, Ka, the DH key or the
// policy's PSK). The removal line is the daemon's ("ISAKMP SA removed",
// with its reason). It is a daemon.Watcher.
type SALog struct{}

// SAEstablished logs "ISAKMP SA established" (daemon.Watcher).
func (SALog) SAEstablished(c *daemon.Context) daemon.Result {
	s := StateOf(c.SA)
	if s == nil || c.Log == nil {
		return daemon.Result{}
	}
	fs := notify.NewFields()
	fs.F = append(AppendEstablishedFields(fs.F, c.SA, s), notify.EventField(notify.EventSAUp))
	c.Log.Info("ISAKMP SA established", fs.F...)
	fs.Free()
	return daemon.Result{}
}

// SARemoved does nothing: the daemon logs removals (daemon.Watcher).
func (SALog) SARemoved(*daemon.Context, daemon.RemoveReason) daemon.Result { return daemon.Result{} }

// AppendEstablishedFields appends to fs the fields of the "ISAKMP SA
// established" line for the daemon's SA dsa and its phase 1 state s.
func AppendEstablishedFields(fs []zap.Field, dsa *daemon.SA, s *SA) []zap.Field {
	t := s.Transform
	cipher := t.Cipher.String()
	if t.KeyLength != 0 {
		cipher += "_" + strconv.FormatUint(uint64(t.KeyLength), 10)
	}
	fs = append(fs,
		zap.String("conn", dsa.Conn),
		zap.String("role", s.Role.String()),
		zap.String("mode", modeName(s.Mode)),
		zap.String("local", endpoint(s.Local)),
		zap.String("remote", endpoint(s.Remote)),
		zap.String("local-id", s.LocalIDText),
		zap.String("remote-id", s.RemoteIDText),
		zap.String("cipher", cipher),
		zap.String("hash", t.Hash.String()),
		zap.String("group", t.Group.String()),
		zap.String("auth", t.Auth.String()),
		zap.Uint64("lifetime-seconds", t.LifeSeconds),
		zap.Stringer("cookies", dsa.Cookies),
	)
	if t.LifeKBytes != 0 {
		fs = append(fs, zap.Uint64("lifetime-kbytes", t.LifeKBytes))
	}
	if s.Floated {
		fs = append(fs, zap.Bool("nat-t", true), zap.Bool("local-behind-nat", s.LocalBehindNAT),
			zap.Bool("remote-behind-nat", s.RemoteBehindNAT))
	}
	return fs
}

// modeName is the phase 1 mode as operators say it (RFC 2409, 5: Main
// Mode is ISAKMP's Identity Protection exchange).
func modeName(m isakmp.ExchangeType) string {
	switch m {
	case isakmp.ExchangeMain:
		return "Main"
	case isakmp.ExchangeAggressive:
		return "Aggressive"
	}
	return m.String()
}

// endpoint prints an address and port as strongSwan does: 192.0.2.1[500].
func endpoint(a netip.AddrPort) string {
	// Appended rather than formatted: two lines per SA pair at the
	// default level (docs/performance.md).
	b := make([]byte, 0, len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff][65535]"))
	b = a.Addr().Unmap().AppendTo(b)
	b = append(b, '[')
	b = strconv.AppendUint(b, uint64(a.Port()), 10)
	return string(append(b, ']'))
}
