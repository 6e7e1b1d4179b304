package daemon

import (
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Manually keyed connections (`manual-keys`, docs/policy-file.md): no IKE,
// their SAs and policies go into the kernel at start-up and at a reload
// that changes them, and out at the stop (the engine's Detach flushes
// them). Their policies are part of Loaded.Policies, so a reload replaces
// them make-before-break with the others; a bundle the kernel refuses
// leaves its policies in, and they drop the traffic (fail closed).

// ManualSAs is the kernel bundle of one manually keyed connection.
type ManualSAs struct {
	Conn   string
	Bundle *engine.Bundle
}

// manualBundle builds the bundle and policies of manually keyed connection
// c: inbound SAs under spi-in with the -in keys, outbound under spi-out,
// no anti-replay (RFC 4303, 3.3.3: a manually keyed SA cannot be rekeyed,
// so its counter could not start again), no lifetime.
func manualBundle(c *policymgr.Connection, reqID uint32) (*engine.Bundle, []engine.Policy, error) {
	m := c.Manual
	lp, ok1 := c.Local.Addr.Prefix()
	rp, ok2 := c.Remote.Addr.Prefix()
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("connection %s: manual keys need subnet or host selectors", c.Name)
	}
	b := &engine.Bundle{ID: reqID, ReqID: reqID, Mode: engine.ModeTransport, Local: lp.Addr(), Remote: rp.Addr(),
		Selector: engine.Selector{Local: lp, Remote: rp, Protocol: c.Local.Proto, LocalPort: c.Local.Port, RemotePort: c.Remote.Port}}
	if c.Tunnel {
		b.Mode, b.Local, b.Remote = engine.ModeTunnel, c.LocalGW, c.RemoteGW
	}
	var protos []engine.Protocol
	for _, s := range m.SAs {
		in, err := manualSA(c, s, s.SPIIn, s.CipherKeyIn, s.AuthKeyIn)
		if err != nil {
			return nil, nil, err
		}
		out, err := manualSA(c, s, s.SPIOut, s.CipherKeyOut, s.AuthKeyOut)
		if err != nil {
			return nil, nil, err
		}
		b.Inbound = append(b.Inbound, in)
		b.Outbound = append(b.Outbound, out)
		protos = append(protos, in.Protocol)
	}
	return b, engine.PoliciesFor(b.Selector, b.Mode, b.Local, b.Remote, protos, reqID), nil
}

// manualSA is one direction of one protocol, with the algorithms the
// kernel gets for the transform as Quick Mode's (quickmode/keys.go).
func manualSA(c *policymgr.Connection, s policymgr.ManualSA, spi uint32, cipherKey, authKey policymgr.Secret) (engine.SA, error) {
	t := s.Transform
	sa := engine.SA{SPI: spi}
	switch s.Protocol {
	case isakmp.ProtoESP:
		sa.Protocol = engine.ProtoESP
		cs, err := engine.ESPCipher(uint16(t.ID), t.KeyLength)
		if err != nil {
			return sa, err
		}
		sa.Encryption = &engine.Cipher{Name: cs.Name, Key: engine.Key(cipherKey), ICVBits: cs.ICVBits}
		if t.Auth != 0 {
			is, err := engine.AuthAlgorithm(uint16(t.Auth))
			if err != nil {
				return sa, err
			}
			sa.Integrity = manualIntegrity(c, is, authKey)
		}
	case isakmp.ProtoAH:
		sa.Protocol = engine.ProtoAH
		is, err := engine.AHTransform(uint16(t.ID))
		if err != nil {
			return sa, err
		}
		sa.Integrity = manualIntegrity(c, is, authKey)
	case isakmp.ProtoIPCOMP:
		sa.Protocol = engine.ProtoIPComp
		comp, err := engine.IPCompTransform(uint16(t.ID))
		if err != nil {
			return sa, err
		}
		sa.Compression = &comp
	default:
		return sa, fmt.Errorf("connection %s: manual keys for protocol %v", c.Name, s.Protocol)
	}
	return sa, nil
}

func manualIntegrity(c *policymgr.Connection, is engine.IntegritySpec, key policymgr.Secret) *engine.Integrity {
	if is.Name == "hmac(sha256)" && c.SHA256Trunc96 {
		is.TruncBits = 96
	}
	return &engine.Integrity{Name: is.Name, Key: engine.Key(key), TruncBits: is.TruncBits}
}

// installManual puts the manual bundles in at start-up, after the
// policies, waiting for each. A bundle the kernel refuses is logged (the
// engine logs 65/66 for a one-sided one) and its policies stay.
func (d *Daemon) installManual() {
	for _, m := range d.policy.Manual {
		tok := d.newTokenRaw()
		if dropped := d.eng.Submit(&engine.Install{Token: tok, Bundle: m.Bundle}); dropped != nil {
			d.log.Error("engine queue refused a manually keyed bundle", zap.String("conn", m.Conn))
			continue
		}
		ev, err := d.waitEngine(tok, 30*time.Second)
		switch {
		case err != nil:
			d.log.Error("manually keyed SAs not installed", zap.String("conn", m.Conn), zap.Error(err))
		case ev.Kind != engine.EventInstalled:
			d.log.Error("manually keyed SAs not installed", zap.String("conn", m.Conn), zap.Stringer("event", ev))
		default:
			d.log.Info("manually keyed SAs installed", zap.String("conn", m.Conn), zap.Int("SAs", len(m.Bundle.Refs())))
		}
	}
}

// replaceManual, at a reload, takes out the manual bundles the new policy
// changed or dropped and puts in its new or changed ones (the same SPIs
// cannot be in the kernel twice, so the old go first; their policies stay
// meanwhile and drop the traffic).
func (d *Daemon) replaceManual(old, cur []ManualSAs) {
	same := func(a ManualSAs, list []ManualSAs) bool {
		for _, b := range list {
			if a.Conn == b.Conn && reflect.DeepEqual(a.Bundle, b.Bundle) {
				return true
			}
		}
		return false
	}
	for _, m := range old {
		if !same(m, cur) {
			tok := d.newTokenRaw()
			d.tokens[tok] = tokenRef{}
			d.submit(&engine.Delete{Token: tok, SAs: m.Bundle.Refs()})
		}
	}
	for _, m := range cur {
		if !same(m, old) {
			tok := d.newTokenRaw()
			d.tokens[tok] = tokenRef{}
			d.submit(&engine.Install{Token: tok, Bundle: m.Bundle})
		}
	}
}
