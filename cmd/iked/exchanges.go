package main

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
)

// registerExchanges plugs the exchange handlers into the daemon: phase 1
// (Main and Aggressive Mode as responder, and the initiator of `ikectl
// initiate` and `initiate: start`), its informational handler (notifies,
// deletes, DPD) and the watcher that runs each ISAKMP SA's life after
// phase 1 (DPD, NAT keepalives, lifetime, INITIAL-CONTACT), then Quick
// Mode, the half-open SA's failures (phase1.HalfOpen: message 46) and
// the info line of an established ISAKMP SA (phase1.SALog). The NAT-T
// port and DPD come from the policy's daemon section as read at start-up
// (pd); they change only on restart, as the sockets do.
// It returns the Quick Mode runtime (main sets its Traffic).
func registerExchanges(d *daemon.Daemon, pd policymgr.Daemon) *quickmode.Runtime {
	port := uint16(0)
	if pd.NATTPort > 0 && pd.NATTPort <= 65535 {
		port = uint16(pd.NATTPort)
	}
	rt := &phase1.Runtime{Hooks: phase1.NewHooks(phase1.NATTConfig{Port: port, DPD: pd.DPD.Delay > 0})}
	d.Register(isakmp.ExchangeMain, rt)
	d.Register(isakmp.ExchangeAggressive, rt)
	d.RegisterInitiator(rt)
	ih := phase1.NewInfoHandler(phase1.DPDConfig{Delay: pd.DPD.Delay, Timeout: pd.DPD.Timeout})
	d.Register(isakmp.ExchangeInformational, ih)
	d.RegisterDeleter(ih)
	qm := registerQuickMode(d, rt, ih)
	// Message 46 for a half-open SA whose peer's message does not decrypt
	// or whose half-open lifetime ends; watched before ih, which wipes the
	// state it reads.
	ho := phase1.NewHalfOpen(qm.Informational())
	d.Register(isakmp.ExchangeInformational, ho)
	d.Watch(ho)
	d.Watch(phase1.SALog{})
	d.Watch(ih)
	return qm
}
