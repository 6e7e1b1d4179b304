package daemon

import (
	"fmt"
	"net/netip"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// PolicyLoader is the Loader over policymgr: the policy file as the daemon
// runs it. Context.Policy is then a *policymgr.Policy.
func PolicyLoader(opts policymgr.LoadOptions) Loader {
	return func(path string) (*Loaded, []notify.Message, error) {
		p, msgs, err := policymgr.Load(path, opts)
		if err != nil || p == nil {
			return nil, msgs, err
		}
		s, err := settingsOf(p.Daemon)
		if err != nil {
			return nil, append(msgs, notify.SPDNotInstantiated()), nil
		}
		l := &Loaded{File: path, Settings: s, Policy: p, Certs: certsOf(p.Certs)}
		for i, c := range p.Connections {
			l.Conns = append(l.Conns, connOf(c))
			l.Policies = append(l.Policies, trapPolicies(c, uint32(i+1))...)
			if c.Manual != nil {
				b, ps, err := manualBundle(c, uint32(i+1))
				if err != nil {
					return nil, append(msgs, notify.SPDNotInstantiated()), nil
				}
				l.Manual = append(l.Manual, ManualSAs{Conn: c.Name, Bundle: b})
				l.Policies = append(l.Policies, ps...)
			}
		}
		return l, msgs, nil
	}
}

// settingsOf takes the runtime's settings from the policy's daemon section.
func settingsOf(pd policymgr.Daemon) (Settings, error) {
	s := DefaultSettings()
	s.Listen = nil
	for _, a := range pd.Listen {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return s, fmt.Errorf("daemon.listen: %w", err)
		}
		s.Listen = append(s.Listen, addr)
	}
	if pd.IKEPort <= 0 || pd.IKEPort > 65535 || pd.NATTPort < 0 || pd.NATTPort > 65535 {
		return s, fmt.Errorf("daemon: port out of range")
	}
	s.IKEPort, s.NATTPort = uint16(pd.IKEPort), uint16(pd.NATTPort)
	s.Engine = pd.Engine
	s.ESPInUDP = pd.Engine == "xfrm"
	s.IPsecBypass = pd.Engine == "xfrm"
	s.ControlSocket = pd.ControlSocket
	s.HalfOpenMax = pd.HalfOpenMax
	s.HalfOpenLifetime, s.ReplyCacheTime = pd.HalfOpenLifetime, pd.ReplyCacheTime
	u := pd.UnderLoad
	s.LoadHalfOpen, s.PerSourceHalfOpen, s.RateLimit, s.RateBurst = u.HalfOpen, u.PerSource, u.Rate, u.Burst
	s.InitiateMax, s.InitiatePerPeer = pd.InitiateMax, pd.InitiatePerPeer
	s.RetransmitBase = pd.Retransmit.Timeout
	s.RetransmitTries = pd.Retransmit.Tries
	s.Log = pd.Log
	s.MetricsListen = pd.Metrics.Listen
	s.LogUnmatched = pd.LogUnmatched
	return s, s.Validate()
}

func connOf(c *policymgr.Connection) control.Conn {
	out := control.Conn{
		Name:          c.Name,
		LocalAddress:  c.Local.String(),
		RemoteAddress: c.Remote.String(),
		Initiate:      c.Initiate.String(),
	}
	if c.LocalGW.IsValid() {
		out.LocalGW = c.LocalGW.String()
	}
	switch {
	case c.RemoteGW.IsValid():
		out.RemoteGW = c.RemoteGW.String()
	case c.RemoteGWName != "":
		out.RemoteGW = c.RemoteGWName
	case c.Tunnel:
		out.RemoteGW = "any"
	}
	switch {
	case c.Manual != nil:
		out.Mode = "manual"
	case c.IKE != nil && c.IKE.Mode == isakmp.ExchangeAggressive:
		out.Mode = "aggressive"
	case c.IKE != nil:
		out.Mode = "main"
	}
	return out
}

// trapPolicies are the kernel policies installed at start-up for an
// on-demand connection whose peer is known: traffic that matches them and
// has no SA makes the kernel ask for one (ACQUIRE). Connections that only
// respond, road warriors and selectors that are ranges rather than subnets
// get their policies when their SAs are installed.
func trapPolicies(c *policymgr.Connection, reqID uint32) []engine.Policy {
	if c.Initiate != policymgr.InitiateOnDemand || c.IKE == nil || c.ProposalList == nil || len(c.ProposalList.Proposals) == 0 {
		return nil
	}
	lp, ok1 := c.Local.Addr.Prefix()
	rp, ok2 := c.Remote.Addr.Prefix()
	if !ok1 || !ok2 {
		return nil
	}
	mode := engine.ModeTransport
	local, remote := lp.Addr(), rp.Addr()
	if c.Tunnel {
		if !c.LocalGW.IsValid() || !c.RemoteGW.IsValid() {
			return nil
		}
		mode, local, remote = engine.ModeTunnel, c.LocalGW, c.RemoteGW
	} else if !c.Local.Addr.IsHost() || !c.Remote.Addr.IsHost() {
		return nil
	}
	var protos []engine.Protocol
	for _, pc := range c.ProposalList.Proposals[0].Protocols {
		switch pc.Protocol {
		case isakmp.ProtoESP:
			protos = append(protos, engine.ProtoESP)
		case isakmp.ProtoAH:
			protos = append(protos, engine.ProtoAH)
		case isakmp.ProtoIPCOMP:
			protos = append(protos, engine.ProtoIPComp)
		}
	}
	if len(protos) == 0 {
		return nil
	}
	sel := engine.Selector{Local: lp, Remote: rp, Protocol: c.Local.Proto, LocalPort: c.Local.Port, RemotePort: c.Remote.Port}
	return engine.PoliciesFor(sel, mode, local, remote, protos, reqID)
}
