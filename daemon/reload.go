package daemon

import (
	"slices"

	"go.uber.org/zap"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/notify"
)

// Reload rereads the policy file, as SIGHUP and `ikectl reload` do, and
// returns the messages it produced and whether the new policy is in force. An unreadable file is message 5 and a
// refused policy is its messages then 21; either way the running policy
// stays. The file is read off the loop; the switch happens on it.
func (d *Daemon) Reload() ([]notify.Message, bool) {
	d.Counters.Reloads.Add(1)
	file := d.opt.ConfigFile
	loaded, msgs, err := d.opt.Load(file)
	if err != nil {
		m := notify.ConfigUnreadable(file)
		d.log.Emit(m, zap.Error(err))
		d.Counters.ReloadFailures.Add(1)
		return []notify.Message{m}, false
	}
	emitPolicyMessages(d.log, msgs, loaded == nil)
	if loaded == nil {
		d.Counters.ReloadFailures.Add(1)
		if !slices.ContainsFunc(msgs, func(m notify.Message) bool { return m.Num == notify.SPDNotInstantiated().Num }) {
			msgs = append(msgs, notify.SPDNotInstantiated())
		}
		return msgs, false
	}
	if err := loaded.Settings.Validate(); err != nil {
		d.log.Error("reload refused", zap.Error(err))
		d.Counters.ReloadFailures.Add(1)
		return msgs, false
	}
	if !d.call(func() { d.switchPolicy(loaded) }) {
		return msgs, false
	}
	return msgs, true
}

// switchPolicy puts a new policy in force on the loop. Settings that need
// new sockets (listen, ports, engine, control socket) wait for a restart.
func (d *Daemon) switchPolicy(l *Loaded) {
	old := d.settings
	n := l.Settings
	if !slices.Equal(old.Listen, n.Listen) || old.IKEPort != n.IKEPort || old.NATTPort != n.NATTPort ||
		old.Engine != n.Engine || old.ControlSocket != n.ControlSocket || old.MetricsListen != n.MetricsListen {
		d.log.Warn("listen addresses, ports, engine, control socket and metrics listener change only on restart")
		n.Listen, n.IKEPort, n.NATTPort = old.Listen, old.IKEPort, old.NATTPort
		n.Engine, n.ControlSocket, n.MetricsListen = old.Engine, old.ControlSocket, old.MetricsListen
		l.Settings = n
	}
	oldPolicies, oldManual := d.policy.Policies, d.policy.Manual
	oldPolicy := d.policy.Policy
	d.applyPolicy(l)
	d.revoke(oldPolicy, l.Policy)
	d.replacePolicies(oldPolicies, l)
	d.replaceManual(oldManual, l.Manual)
	d.applyUnmatched()
	_ = d.policyInForce(l.Policy) // logged; the policy stays in force
	d.initiateStartConns()
	d.log.Info("policy reloaded", zap.String("file", l.File), zap.Int("connections", len(l.Conns)))
}

// replacePolicies puts the reloaded policy's kernel policies in and only
// then takes the old ones out (make-before-break: the engines stack
// policies of the same selector, see engine/xfrm/policy.go), so protected
// traffic never finds no policy and leaves in clear. When the new ones are
// refused the old ones stay in force, and stay l's, to be removed by the
// next reload or the stop.
func (d *Daemon) replacePolicies(old []engine.Policy, l *Loaded) {
	remove := func() {
		if len(old) == 0 {
			return
		}
		tok := d.newTokenRaw()
		d.tokens[tok] = tokenRef{}
		d.submit(&engine.RemovePolicies{Token: tok, Policies: old})
	}
	if len(l.Policies) == 0 {
		remove()
		return
	}
	tok := d.newTokenRaw()
	d.tokens[tok] = tokenRef{then: func(ev engine.Event) {
		if ev.Kind == engine.EventPoliciesInstalled {
			remove()
			return
		}
		d.log.Error("the reloaded policy's kernel policies were not installed; the previous ones stay in force",
			zap.String("file", l.File), zap.Stringer("event", ev))
		l.Policies = old
	}}
	d.submit(&engine.InstallPolicies{Token: tok, Policies: l.Policies})
}
