package quickmode

import (
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
)

// retire deletes a bundle a rekey replaced: the peer is told with a
// Delete (RFC 2408, 3.15), the engine removes it, the table forgets it.
func (rt *Manager) retire(c *daemon.Context, p1 *phase1.SA, old *Child) []engine.Request {
	rt.drop(old)
	if mid, err := isakmp.NewMessageID(c.Rand, nil); err == nil {
		if out, err := DeleteChildren(p1, mid, []*Child{old}, false); err == nil {
			sendInfo(c, out)
		}
	}
	if c.Log != nil {
		c.Log.Info("IPsec SA rekeyed: the old bundle is deleted", zap.String("conn", old.Conn), zap.String("spis", spiText(old)),
			notify.EventField(notify.EventIPsecDown))
	}
	return deleteRequests(c, []*Child{old})
}

// beginRekey starts Quick Mode for conn on c.SA, replacing old if set.
func (rt *Manager) beginRekey(c *daemon.Context, name string, old *Child) []notify.Message {
	p1, err := phase1Of(c)
	if err != nil {
		return nil
	}
	if rt.Gate != nil && rt.Gate.Holds(c.SA) {
		// XAUTH or Mode Config first (Released starts it).
		rt.gated[c.SA] = append(rt.gated[c.SA], gatedStart{name, old})
		if c.Log != nil {
			c.Log.Debug("Quick Mode held until XAUTH and Mode Config are done", zap.String("conn", name),
				zap.Stringer("cookies", c.SA.Cookies), zap.Int("held", len(rt.gated[c.SA])))
		}
		return nil
	}
	cfg := rt.config(c)
	if cfg.Policy == nil {
		return nil
	}
	conn, ok := cfg.Policy.Connection(name)
	if !ok || conn.ProposalList == nil || len(conn.ProposalList.Proposals) == 0 {
		return nil
	}
	mid := c.NewMessageID()
	x, st, err := NewInitiator(env(c), cfg, p1, conn, mid)
	if err != nil {
		if c.Log != nil {
			c.Log.Warn("Quick Mode not started", zap.String("conn", name), zap.Error(err))
		}
		return st.Log
	}
	x.rekeys = old
	c.Begin(isakmp.ExchangeQuickMode, mid, &exchange{x: x, rt: rt}, rt.result(c, x, st))
	return nil
}

// rekey answers a soft EXPIRE (RFC 2409, 5.5 leaves rekeying to the
// lifetimes): a new Quick Mode for the bundle's connection on its
// established ISAKMP SA, which deletes the old bundle once the new one is
// installed; without an ISAKMP SA, phase 1 first, and the Quick Mode
// after it replaces the old bundle just the same. Each bundle is rekeyed
// once, whichever of its SAs expires first, by whichever side's soft
// lifetime comes first, as charon rekeys: the responder's comes a little
// later (softLimit), so the Quick Mode initiator normally rekeys, and the
// responder rekeys only when the peer has not (its bundle is not
// replaced by a newer one of the same connection and traffic).
func (rt *Manager) rekey(c *daemon.Context, ref engine.SARef) daemon.Result {
	old := rt.find(ref)
	if old == nil || old.rekeying || old.deferred {
		return daemon.Result{}
	}
	if old.Role != daemon.RoleInitiator {
		// Give the peer's rekey, begun at its own soft lifetime (the
		// same instant for lifetimes too short to tell the roles apart),
		// a moment to arrive first.
		if sa := establishedFor(c, old); sa != nil {
			old.deferred = true
			c.SA = sa
			rt.deferRekey(c, old, c.Now.Add(rekeyGrace(old, c.Now)))
			return daemon.Result{}
		}
	}
	return rt.rekeyNow(c, old)
}

// rekeyNow starts the Quick Mode that replaces old at its soft lifetime.
func (rt *Manager) rekeyNow(c *daemon.Context, old *Child) daemon.Result {
	if old.Role != daemon.RoleInitiator && rt.replaced(old) {
		// The peer rekeyed already; its Delete retires ours, or the
		// hard lifetime does.
		return daemon.Result{}
	}
	return rt.startRekey(c, old, "IPsec SA reached its soft lifetime: rekeying")
}

// Rekey answers `ikectl rekey` (daemon.Rekeyer): each bundle of c.SA that
// is not being rekeyed already, nor replaced by a newer one of the same
// traffic, and whose connection the running policy still has, is rekeyed
// at once, as its soft lifetime would rekey it, with this side as the
// Quick Mode's initiator whichever side began the old one. It returns how
// many bundles began rekeying.
func (rt *Manager) Rekey(c *daemon.Context) (int, daemon.Result) {
	sa := c.SA
	var res daemon.Result
	n := 0
	for _, ch := range slices.Clone(rt.children[sa]) {
		if ch.rekeying || rt.replaced(ch) || c.Policy == nil {
			continue
		}
		if _, ok := c.Policy.Connection(ch.Conn); !ok {
			continue
		}
		r := rt.startRekey(c, ch, "IPsec SA rekeying on request (ikectl rekey)")
		c.SA = sa
		res.Log = append(res.Log, r.Log...)
		n++
	}
	return n, res
}

// startRekey starts the Quick Mode that replaces old, on its connection's
// established ISAKMP SA or after a new phase 1, and logs why.
func (rt *Manager) startRekey(c *daemon.Context, old *Child, why string) daemon.Result {
	old.rekeying = true
	if c.Log != nil {
		c.Log.Info(why, zap.String("conn", old.Conn),
			zap.String("role", old.Role.String()), zap.String("spis", spiText(old)))
	}
	if sa := establishedFor(c, old); sa != nil {
		c.SA = sa
		return daemon.Result{Log: rt.beginRekey(c, old.Conn, old)}
	}
	if len(rt.rekeyAfter[old.Conn]) < maxChildren {
		rt.rekeyAfter[old.Conn] = append(rt.rekeyAfter[old.Conn], old)
	}
	c.Initiate(old.Conn)
	return daemon.Result{}
}

// laterKey names the per-SA timer of deferred responder rekeys.
const laterKey = "quickmode-rekey"

// maxGrace bounds how long a responder waits for the peer's rekey.
const maxGrace = 2 * time.Second

// rekeyGrace is how long a responder's rekey waits: half the time left
// to the hard lifetime, at most maxGrace.
func rekeyGrace(ch *Child, now time.Time) time.Duration {
	left := time.Second
	if !ch.Expires.IsZero() {
		left = ch.Expires.Sub(now)
	}
	return max(min(left/2, maxGrace), 0)
}

// deferral is a responder's rekey waiting for its due time.
type deferral struct {
	ch  *Child
	due time.Time
}

// deferRekey queues a rekey of old on c.SA and arms the SA's timer.
func (rt *Manager) deferRekey(c *daemon.Context, old *Child, due time.Time) {
	rt.later[c.SA] = append(rt.later[c.SA], deferral{old, due})
	if t := c.TimerAt(laterKey); t.IsZero() || due.Before(t) {
		c.At(laterKey, due, rt.runLater)
	}
}

// runLater rekeys the deferred bundles that are due and still unreplaced.
func (rt *Manager) runLater(c *daemon.Context) daemon.Result {
	sa := c.SA
	var res daemon.Result
	var rest []deferral
	var next time.Time
	for _, d := range rt.later[sa] {
		if d.due.After(c.Now) {
			rest = append(rest, d)
			if next.IsZero() || d.due.Before(next) {
				next = d.due
			}
			continue
		}
		d.ch.deferred = false
		if !rt.known(d.ch) || d.ch.rekeying {
			continue // deleted (the peer's rekey retired it) or expired
		}
		r := rt.rekeyNow(c, d.ch)
		c.SA = sa
		res.Log = append(res.Log, r.Log...)
	}
	if len(rest) == 0 {
		delete(rt.later, sa)
	} else {
		rt.later[sa] = rest
		c.At(laterKey, next, rt.runLater)
	}
	return res
}
