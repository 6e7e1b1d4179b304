package policymgr

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Action is what becomes of a connection when Dead Peer Detection declares
// its peer dead (the connection's dpd.action) or when the peer closes its
// SAs (close-action): the words and meanings of strongSwan's dpd_action and
// close_action (ipsec.conf's dpdaction and closeaction), so that a
// strongSwan user finds what they expect (docs/policy-file.md,
// "Connection behaviours").
type Action uint8

const (
	// ActionNone: nothing beyond removing what the peer removed
	// (close-action only; the default there).
	ActionNone Action = iota
	// ActionClear: the SAs go and nothing more happens (the default of
	// dpd.action).
	ActionClear
	// ActionHold: the SAs go, but the connection's kernel policies stay
	// (or, for an on-demand connection, its trap policies, which stay
	// anyway), so that the next packet they match makes the kernel ask
	// for new SAs (an ACQUIRE) and the daemon negotiates again.
	ActionHold
	// ActionRestart: the daemon negotiates the connection again at once
	// (with keying-tries' retries when that fails).
	ActionRestart
)

func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionClear:
		return "clear"
	case ActionHold:
		return "hold"
	case ActionRestart:
		return "restart"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ConnDPD is a connection's Dead Peer Detection: the daemon section's
// delay and timeout unless the connection gives its own, and what happens
// when the peer is found dead.
type ConnDPD struct {
	Delay, Timeout time.Duration
	Action         Action
}

// SendCert says when this host sends its certificate in phase 1 (CERT
// payload, RFC 2408, 3.9): strongSwan's send_cert.
type SendCert uint8

const (
	// SendCertIfAsked: when the peer sent a certificate request (CR,
	// RFC 2408, 3.10); the default.
	SendCertIfAsked SendCert = iota
	// SendCertAlways: whether asked or not.
	SendCertAlways
	// SendCertNever: the peer must have our certificate already.
	SendCertNever
)

func (s SendCert) String() string {
	switch s {
	case SendCertIfAsked:
		return "if-asked"
	case SendCertAlways:
		return "always"
	case SendCertNever:
		return "never"
	}
	return fmt.Sprintf("SendCert(%d)", uint8(s))
}

// connDPDKeys are those of a connection's dpd mapping.
var connDPDKeys = []string{"delay", "timeout", "action"}

// action reads a dpd.action or close-action word; none is allowed only
// where allowNone says.
func (d *decoder) action(vn *yaml.Node, what string, allowNone bool) (Action, bool) {
	t, ok := d.str(vn, what)
	if !ok {
		return 0, false
	}
	switch t {
	case "none":
		if allowNone {
			return ActionNone, true
		}
	case "clear":
		return ActionClear, true
	case "hold", "trap":
		return ActionHold, true
	case "restart", "start":
		return ActionRestart, true
	}
	words := "clear, hold or restart"
	if allowNone {
		words = "none, clear, hold or restart"
	}
	d.errorf(vn, "%s %q: it must be %s", what, t, words)
	return 0, false
}

// connActions decodes a connection's dpd mapping and close-action. The
// dpd delay and timeout not given come from the daemon section once it is
// known (resolveDPD).
func (d *decoder) connActions(cd *connDef, where string) {
	c := cd.conn
	c.DPD.Action = ActionClear
	if vn, given := cd.keys["dpd"]; given {
		d.mapping(vn, where+" dpd", connDPDKeys, func(key string, _, v *yaml.Node) {
			switch key {
			case "action":
				if a, ok := d.action(v, where+" dpd action", false); ok {
					c.DPD.Action = a
					cd.dpdActionAt = v
				}
			case "delay", "timeout":
				if t, ok := d.duration(v, where+" dpd "+key, 0, 24*time.Hour); ok {
					if key == "delay" {
						c.DPD.Delay, cd.dpdDelayAt = t, v
					} else {
						c.DPD.Timeout, cd.dpdTimeoutAt = t, v
					}
				}
			}
		})
	}
	if vn, given := cd.keys["close-action"]; given {
		if a, ok := d.action(vn, where+" close-action", true); ok {
			c.CloseAction = a
		}
	}
}

// checkActions checks what the actions need, once the connection's
// gateways and keying are known: hold and restart initiate, so the
// connection needs an IKE section and a peer address to initiate to.
func (d *decoder) checkActions(cd *connDef, where string) {
	c := cd.conn
	knownPeer := c.RemoteGW.IsValid() || c.RemoteGWName != "" || (!c.Tunnel && c.Remote.Addr.IsHost())
	check := func(a Action, at *yaml.Node, what string) {
		if a != ActionHold && a != ActionRestart || at == nil {
			return
		}
		if !knownPeer {
			d.errorf(at, "%s %s %s: the connection has no peer address to negotiate with again (give remote-gw, or a single remote-address in transport mode)", where, what, a)
		}
	}
	if c.IKE == nil {
		// A manually keyed connection has no ISAKMP SA to probe and no
		// peer that deletes its SAs.
		for _, key := range []string{"dpd", "close-action"} {
			if vn, given := cd.keys[key]; given {
				d.errorf(vn, "%s %s: a manually keyed connection has no IKE peer to probe or to close its SAs", where, key)
			}
		}
		return
	}
	check(c.DPD.Action, cd.dpdActionAt, "dpd action")
	check(c.CloseAction, cd.keys["close-action"], "close-action")
}

// resolveDPD gives a connection the daemon section's DPD delay and
// timeout where it gave none, and checks what DPD needs: the daemon
// announces DPD (its Vendor ID, RFC 3706, 4) only when daemon.dpd.delay is
// not 0, so a connection cannot turn DPD on alone.
func (d *decoder) resolveDPD(cd *connDef, pd DPD) {
	c := cd.conn
	if c.IKE == nil {
		return
	}
	if cd.dpdDelayAt == nil {
		c.DPD.Delay = pd.Delay
	}
	if cd.dpdTimeoutAt == nil {
		c.DPD.Timeout = pd.Timeout
	}
	where := fmt.Sprintf("connection %q dpd", c.Name)
	if cd.dpdDelayAt != nil && c.DPD.Delay > 0 && pd.Delay == 0 {
		d.errorf(cd.dpdDelayAt, "%s delay %v: daemon dpd.delay is 0, which turns DPD off for every connection (no DPD Vendor ID is sent); set it there", where, c.DPD.Delay)
	}
	if c.DPD.Delay > 0 && c.DPD.Timeout == 0 {
		at := cd.dpdTimeoutAt
		if at == nil {
			at = cd.dpdDelayAt
		}
		if at != nil {
			d.errorf(at, "%s: a delay of %v with a timeout of 0: the peer would be declared dead at its first probe", where, c.DPD.Delay)
		}
	}
	if cd.dpdActionAt != nil && c.DPD.Action != ActionClear && c.DPD.Delay == 0 {
		d.warnf(cd.dpdActionAt, "%s action %s: DPD is off for this connection (delay 0), so the action never runs", where, c.DPD.Action)
	}
}

// sendCert reads ike.send-cert.
func (d *decoder) sendCert(vn *yaml.Node, where string, p *Phase1) {
	t, ok := d.str(vn, where+" send-cert")
	if !ok {
		return
	}
	switch t {
	case "if-asked", "ifasked":
		p.SendCert = SendCertIfAsked
	case "always":
		p.SendCert = SendCertAlways
	case "never":
		p.SendCert = SendCertNever
	default:
		d.errorf(vn, "%s send-cert %q: it must be always, if-asked or never", where, t)
		return
	}
	if p.Auth == AuthPSK {
		d.errorf(vn, "%s send-cert: there is no certificate to send with auth psk", where)
	}
}
