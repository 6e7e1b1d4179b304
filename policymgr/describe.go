package policymgr

import (
	"fmt"
	"strings"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

// describe adds what `iked -check` says beyond the load's findings, each
// at its line: a connection's behaviours when they are not the defaults
// (describeBehaviours), what every road warrior connection (a tunnel
// without a fixed remote-gw) accepts as the peer's selectors (the limits
// Quick Mode applies, WarriorLimit), and every trusted CA without a CRL,
// whose revocations nobody checks.
func (d *decoder) describe(conns []*connDef, certs []*certDef, store *pki.Store) {
	for _, cd := range conns {
		if !cd.skip {
			d.describeBehaviours(cd.conn)
		}
	}
	for _, cd := range conns {
		c := cd.conn
		if cd.skip || c.IKE == nil || !c.Tunnel || !c.RoadWarrior() {
			continue
		}
		var accepts string
		any := c.Remote.Addr.IsAny()
		switch mc := c.ModeConfig; {
		case mc != nil && mc.Pool != nil:
			accepts = fmt.Sprintf("only the address it leased from pool %q (%s, %d addresses)", mc.PoolName, mc.Pool.Range, mc.Pool.Size())
		case c.SAPerHost && any:
			accepts = "only the peer's own address, one SA for each peer (sa-per-host)"
		case c.SAPerHost:
			accepts = fmt.Sprintf("single addresses within %s, one SA for each (sa-per-host)", c.Remote.Addr)
		case any:
			accepts = "only the peer's own address (the one phase 1 ran with; a peer behind a NAT: its public address); give remote-address to accept more"
		default:
			accepts = fmt.Sprintf("%s or any part of it the peer proposes", c.Remote.Addr)
		}
		if c.Remote.Proto != 0 {
			accepts += ", protocol " + protoName(c.Remote.Proto)
			if c.Remote.Port != 0 {
				accepts += fmt.Sprintf(" port %d", c.Remote.Port)
			}
		}
		if !c.Local.Addr.IsAny() {
			accepts += fmt.Sprintf(", never one overlapping the local-address %s", c.Local.Addr)
		}
		peers := "any identity its authentication proves"
		if !c.IKE.RemoteID.IsZero() {
			peers = "identity " + c.IKE.RemoteID.Text
		}
		if c.IKE.CA != "" {
			peers += fmt.Sprintf(", certified by %q", c.IKE.CA)
		}
		d.add(c.Line, plainAt(notify.LevelInfo, c.Line, "connection %q answers any peer gateway (no remote-gw): as remote selectors it accepts %s; as peer, %s", c.Name, accepts, peers))
	}
	for _, cd := range certs {
		c, ok := store.Cert(cd.item.Name)
		if !ok || !c.Trusted || cd.item.CRL != "" || !(c.Forced || c.X509.IsCA) {
			continue
		}
		d.add(cd.line, plainAt(notify.LevelInfo, cd.line, "certificate %q has no crl: revocation of the certificates it issues is not checked", cd.item.Name))
	}
}

// describeBehaviours says, at the connection's line, what happens when
// its peer is found dead or closes it and when its certificate is sent,
// when any of these is not the default (docs/policy-file.md, "Connection
// behaviours").
func (d *decoder) describeBehaviours(c *Connection) {
	if c.IKE == nil {
		return
	}
	var parts []string
	if c.DPD.Action != ActionClear {
		dpd := "DPD is off for it"
		if c.DPD.Delay > 0 {
			dpd = fmt.Sprintf("DPD (probing after %v of silence) finds the peer dead after %v", c.DPD.Delay, c.DPD.Timeout)
		}
		parts = append(parts, fmt.Sprintf("when %s: %s", dpd, actionWords(c.DPD.Action)))
	}
	if c.CloseAction == ActionHold || c.CloseAction == ActionRestart {
		parts = append(parts, "when the peer closes it: "+actionWords(c.CloseAction))
	}
	if c.IKE.SendCert != SendCertIfAsked {
		parts = append(parts, "its certificate is sent "+map[SendCert]string{SendCertAlways: "always", SendCertNever: "never"}[c.IKE.SendCert])
	}
	switch c.Fragmentation {
	case FragmentForce:
		parts = append(parts, "its IKE messages over the path limit are always sent in fragments")
	case FragmentNo:
		parts = append(parts, "its IKE messages are never sent in fragments")
	}
	if len(parts) > 0 {
		d.add(c.Line, plainAt(notify.LevelInfo, c.Line, "connection %q: %s", c.Name, strings.Join(parts, "; ")))
	}
}

func actionWords(a Action) string {
	switch a {
	case ActionHold:
		return "hold (its kernel policies stay; traffic negotiates again)"
	case ActionRestart:
		return "restart (negotiate again at once)"
	}
	return a.String()
}
