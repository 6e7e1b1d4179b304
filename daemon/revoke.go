package daemon

import (
	"slices"

	"go.uber.org/zap"

	"github.com/iked/iked/policymgr"
)

// A reload puts a new policy in force for the SAs that exist as well as
// for new ones: an ISAKMP SA whose connection the reload removed, or
// changed in any way (policymgr.Diff: its pre-shared key, identities,
// selectors, proposals...), is deleted, with a Delete to the peer for its
// IPsec SAs and itself when it is established (the Deleter). The rest go
// to the Revalidator, which checks what a changed file elsewhere may have
// taken away (a certificate revoked by a new CRL) and moves the SA to the
// new policy's connection, so that its next Quick Mode runs on that.

// Revalidator checks an ISAKMP SA against a reloaded policy; phase1/
// registers one.
type Revalidator interface {
	// Revalidate is called on the loop after a reload, with c.Policy the
	// new policy, for each SA whose connection the reload kept unchanged.
	// It moves the SA to the new policy and returns nil, or says why the
	// SA no longer stands.
	Revalidate(c *Context) error
}

// ReloadWatcher is a Watcher that also holds state of connections beyond
// the ISAKMP SAs (quickmode/'s IPsec SAs that outlived theirs): it is told
// which connections a reload removed or changed. Of its Result the logs
// and engine requests are carried out.
type ReloadWatcher interface {
	ConnectionsRevoked(c *Context, conns []string) Result
}

// RegisterRevalidator installs the Revalidator; once, before Start.
func (d *Daemon) RegisterRevalidator(r Revalidator) { registerOnce(&d.revalidator, r, "revalidator") }

// revoke ends the SAs that the switch from policy old to cur takes away
// (see above). A loader without a policymgr policy (tests) revokes nothing.
func (d *Daemon) revoke(old, cur *policymgr.Policy) {
	if old == nil || cur == nil {
		return
	}
	diff := policymgr.DiffPolicies(old, cur)
	why := map[string]string{}
	for _, n := range diff.Removed {
		why[n] = "connection removed"
	}
	for _, n := range diff.Changed {
		why[n] = "connection changed"
	}
	if names := append(slices.Clone(diff.Removed), diff.Changed...); len(names) > 0 {
		c := &Context{Now: d.clock.Now(), Rand: d.rand, Log: d.log, Policy: cur, d: d}
		for _, w := range d.watchers {
			if rw, ok := w.(ReloadWatcher); ok {
				res := rw.ConnectionsRevoked(c, names)
				for _, m := range res.Log {
					d.log.Emit(m)
				}
				for _, r := range res.Engine {
					d.submit(r)
				}
			}
		}
	}
	n := 0
	for _, sa := range d.allSAs() {
		if !d.alive(sa) || sa.Conn == "" {
			continue // a responder SA that has not chosen: the new policy chooses
		}
		reason := why[sa.Conn]
		if reason == "" && d.revalidator != nil {
			res := d.safeCall(sa, nil, func(c *Context) Result {
				return Result{Reject: d.revalidator.Revalidate(c)}
			})
			if res.Reject != nil {
				reason = res.Reject.Error()
			}
		}
		if reason == "" {
			continue
		}
		n++
		d.log.Warn("policy reload revokes an ISAKMP SA", zap.String("conn", sa.Conn), zap.String("reason", reason),
			zap.Stringer("peer", sa.Remote), zap.Stringer("cookies", sa.Cookies), zap.Bool("established", sa.Established))
		if sa.Established {
			d.deleteSA(sa, RemoveRevoked)
		} else {
			d.removeSA(sa, RemoveRevoked)
		}
	}
	if n > 0 || !diff.Empty() {
		d.log.Info("policy reload compared", zap.Strings("added", diff.Added), zap.Strings("removed", diff.Removed),
			zap.Strings("changed", diff.Changed), zap.Int("sas-revoked", n))
	}
}
