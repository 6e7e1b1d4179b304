package main

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/quickmode"
)

// registerQuickMode plugs phase 2 into the daemon: Quick Mode as
// responder; `ikectl initiate` and `initiate: start` run phase 1 and then
// Quick Mode (p1 is phase 1's initiator, wrapped); kernel ACQUIREs start
// Quick Mode (or phase 1 first); informational exchanges go to phase 1's
// InfoHandler, wrapped so that the peer's Deletes of IPsec SAs reach the
// engine and Quick Mode's refusals are message 60; `ikectl terminate`,
// shutdown and an expired ISAKMP SA delete the IPsec SAs with the ISAKMP
// SA (peer told); a dead peer's or a stale SA's IPsec SAs are removed from
// the engine (childReaper). The registrations replace phase 1's own
// informational handler and Deleter.
func registerQuickMode(d *daemon.Daemon, p1 daemon.Initiator, ih *phase1.InfoHandler) {
	qm := quickmode.NewRuntime(p1, ih)
	d.Register(isakmp.ExchangeQuickMode, qm)
	d.RegisterInitiator(qm)
	d.RegisterKernel(qm)
	d.Register(isakmp.ExchangeInformational, qm.Informational())
	d.RegisterDeleter(qm.Deleter())
	d.Watch(childReaper{qm})
}

// childReaper removes the IPsec SAs of an ISAKMP SA that went without a
// goodbye to the peer: DPD declared it dead, INITIAL-CONTACT made it
// stale (RFC 2407, 4.6.3.3: the peer no longer has them either). It
// reuses Quick Mode's Deleter for its engine requests (which also forgets
// the bundles and Quick Mode's other per-SA state, so nothing is kept for
// a gone SA) and drops the message it would send. After ikectl
// terminate, shutdown and lifetime expiry the Deleter ran already; after
// the peer's own Delete of the ISAKMP SA, Quick Mode keeps the IPsec SAs
// to their lifetimes, as RFC 2409 lets the phases live apart.
type childReaper struct{ qm *quickmode.Runtime }

func (childReaper) SAEstablished(*daemon.Context) daemon.Result { return daemon.Result{} }

func (r childReaper) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	switch why {
	case daemon.RemoveTerminated, daemon.RemoveShutdown, daemon.RemoveExpired, daemon.RemoveFailed, daemon.RemoveHalfOpen:
		return daemon.Result{}
	}
	res := r.qm.Deleter().Delete(c)
	return daemon.Result{Engine: res.Engine}
}
