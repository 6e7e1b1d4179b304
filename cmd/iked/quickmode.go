package main

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
)

// registerQuickMode plugs phase 2 into the daemon: Quick Mode as
// responder; `ikectl initiate` and `initiate: start` run phase 1 and then
// Quick Mode (p1 is phase 1's initiator, wrapped); kernel ACQUIREs start
// Quick Mode (or phase 1 first); informational exchanges go to phase 1's
// InfoHandler, wrapped so that the peer's Deletes of IPsec SAs reach the
// engine and Quick Mode's refusals are message 60; `ikectl terminate` and
// shutdown delete the IPsec SAs with the ISAKMP SA.
func registerQuickMode(d *daemon.Daemon, pd policymgr.Daemon, p1 daemon.Initiator) {
	ih := phase1.NewInfoHandler(phase1.DPDConfig{Delay: pd.DPD.Delay, Timeout: pd.DPD.Timeout})
	qm := quickmode.NewRuntime(p1, ih)
	d.Register(isakmp.ExchangeQuickMode, qm)
	d.RegisterInitiator(qm)
	d.RegisterKernel(qm)
	d.Register(isakmp.ExchangeInformational, qm.Informational())
	d.RegisterDeleter(qm.Deleter())
}
