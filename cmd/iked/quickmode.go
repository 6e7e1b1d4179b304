package main

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/quickmode"
)

// registerQuickMode plugs phase 2 into the daemon (quickmode.Register):
// Quick Mode as responder; `ikectl initiate` and `initiate: start` run
// phase 1 and then Quick Mode (p1 is phase 1's initiator, wrapped); kernel
// ACQUIREs start Quick Mode (or phase 1 first) and EXPIREs rekey;
// informational exchanges go to phase 1's InfoHandler, wrapped so that
// the peer's Deletes of IPsec SAs reach the engine and Quick Mode's
// refusals are message 60; `ikectl terminate`, shutdown and an expired
// ISAKMP SA delete the IPsec SAs with the ISAKMP SA (peer told); `ikectl
// list-sas` lists the IPsec SAs under their ISAKMP SA; and the Runtime
// watches ISAKMP SAs, so that a dead peer's or a stale SA's IPsec SAs
// leave the engine and a peer's Delete of the ISAKMP SA leaves them to
// their lifetimes (quickmode/watch.go says why). The registrations
// replace phase 1's own informational handler and Deleter.
func registerQuickMode(d *daemon.Daemon, p1 daemon.Initiator, ih *phase1.InfoHandler) *quickmode.Runtime {
	return quickmode.Register(d, p1, ih)
}
