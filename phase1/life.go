package phase1

import (
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
)

// An ISAKMP SA's life once phase 1 is over, driven by the daemon's per-SA
// timers (daemon.Context.At): DPD probes (RFC 3706), NAT keepalives when we
// are behind a NAT (RFC 3948, 4), and the end of its negotiated lifetime
// (RFC 2407, 4.5), its reauthentication (reauth.go) and the peer's
// INITIAL-CONTACT. Life is the daemon.Watcher that arms them when an SA is
// established and forgets them, and wipes the SA's keys, when it goes.

// Life runs each ISAKMP SA's life after phase 1 (daemon.Watcher). It holds
// the DPD state of each SA, which the informational handler (InfoHandler)
// feeds with what the peer sends. All methods run on the daemon's loop
// goroutine, so it needs no lock.
type Life struct {
	DPD DPDConfig
	// KeepaliveInterval is the NAT keepalive interval when we are behind
	// a NAT (zero: DefaultKeepaliveInterval, strongSwan's 20 s; negative:
	// none).
	KeepaliveInterval time.Duration
	// OnInitialContact, if set, is called when the peer of c.SA sent
	// INITIAL-CONTACT (in phase 1 or in an informational), after
	// ClearStale removed the peer's other SAs (and, through the daemon's
	// watchers, their IPsec SAs).
	OnInitialContact func(c *daemon.Context, s *SA)
	// dpd is the DPD state per ISAKMP SA, keyed by the daemon's SA; an
	// entry goes with its SA (SARemoved, Forget).
	dpd map[*daemon.SA]*DPD
	// keepalives are the NAT keepalive schedules of the SAs behind a NAT.
	keepalives map[*daemon.SA]*Keepalive
	// reauth are the SAs being reauthenticated (reauth.go), with when it
	// began; an entry goes when the new SA is established, when our new
	// negotiation fails, or with the old SA.
	reauth map[*daemon.SA]time.Time
}

// NewLife returns the life of ISAKMP SAs with the policy's daemon.dpd
// (zero delay: DPD off, R-U-THERE from the peer is still answered).
func NewLife(cfg DPDConfig) *Life {
	return &Life{DPD: cfg, dpd: map[*daemon.SA]*DPD{}, keepalives: map[*daemon.SA]*Keepalive{}}
}

// Names of the per-SA timers phase 1 arms.
const (
	TimerDPD       = "phase1-dpd"
	TimerKeepalive = "phase1-natt-keepalive"
	TimerLifetime  = "phase1-lifetime"
)

// SAEstablished starts what an authenticated ISAKMP SA needs
// (daemon.Watcher): DPD when both ends announced it, NAT keepalives when we
// are behind a NAT, the lifetime timer; and, when the peer sent
// INITIAL-CONTACT inside phase 1 (strongSwan's MM5/AM3), it removes the
// peer's stale SAs.
func (h *Life) SAEstablished(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{}
	}
	r := h.Established(c)
	if r.Reject != nil {
		return r
	}
	if h.dpd[c.SA] != nil {
		c.At(TimerDPD, h.DPDNext(c.SA), h.dpdTimer)
	}
	interval := h.KeepaliveInterval
	if interval == 0 {
		interval = DefaultKeepaliveInterval
	}
	if ka := NewKeepalive(s, interval, c.Now); ka != nil && s.Floated {
		if h.keepalives == nil {
			h.keepalives = map[*daemon.SA]*Keepalive{}
		}
		h.keepalives[c.SA] = ka
		c.At(TimerKeepalive, ka.Next(), h.keepaliveTimer)
	}
	if exp := s.Expires(); !exp.IsZero() {
		c.At(TimerLifetime, exp, h.lifetimeTimer)
		h.armReauth(c, s)
	}
	h.reauthDone(c)
	if s.PeerInitialContact {
		h.initialContact(c, s)
	}
	return r
}

// initialContact acts on the peer's INITIAL-CONTACT on s: its stale SAs
// go (ClearStale) and OnInitialContact is told.
func (h *Life) initialContact(c *daemon.Context, s *SA) {
	h.ClearStale(c, s)
	if h.OnInitialContact != nil {
		h.OnInitialContact(c, s)
	}
}

// SARemoved forgets the SA's DPD and keepalive state and wipes its keys
// (daemon.Watcher), whatever removed it: a failed or half-open
// negotiation as much as a deleted SA.
func (h *Life) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	delete(h.dpd, c.SA)
	delete(h.keepalives, c.SA)
	h.reauthFailed(c)
	if s := StateOf(c.SA); s != nil && s.State != StateDeleted {
		s.Wipe()
	}
	return daemon.Result{}
}

// ClearStale removes the ISAKMP SAs that INITIAL-CONTACT on s makes stale
// (StaleSAs: the peer's other established SAs), without a Delete to the
// peer, which no longer has them; the daemon's watchers remove their IPsec
// SAs. It returns how many it removed.
func (h *Life) ClearStale(c *daemon.Context, s *SA) int {
	byState := map[*SA]*daemon.SA{}
	var others []*SA
	// Only the SAs of this connection and peer can be stale (StaleSAs),
	// and the daemon indexes those: a walk of every SA for each new one
	// that carries INITIAL-CONTACT would make a gateway's n-th road
	// warrior cost O(n).
	var dsas []*daemon.SA
	c.EachEstablishedWith(c.SA.Conn, c.SA.Remote.Addr(), func(dsa *daemon.SA) bool {
		dsas = append(dsas, dsa)
		return true
	})
	slices.SortFunc(dsas, func(a, b *daemon.SA) int { return a.Created.Compare(b.Created) })
	for _, dsa := range dsas {
		if o := StateOf(dsa); o != nil && dsa != c.SA && dsa.Established {
			byState[o] = dsa
			others = append(others, o)
		}
	}
	n := 0
	for _, o := range StaleSAs(s, others) {
		dsa := byState[o]
		if c.Remove(dsa, daemon.RemoveStale) {
			n++
			if c.Log != nil {
				c.Log.Info("INITIAL-CONTACT: removed the peer's stale ISAKMP SA",
					zap.String("peer-id", s.RemoteIDText), zap.Stringer("stale", dsa.Cookies),
					zap.Stringer("new", c.SA.Cookies))
			}
		}
	}
	return n
}

// dpdTimer runs DPD at its due time: the traffic the loop accepted since
// the last run counts as proof of life (RFC 3706, 5.3), then DPDTick
// probes or declares the peer dead, which removes the SA (and, through the
// watchers, its IPsec SAs).
func (h *Life) dpdTimer(c *daemon.Context) daemon.Result {
	d := h.dpd[c.SA]
	if d == nil {
		return daemon.Result{}
	}
	if !c.SA.LastHeard.IsZero() {
		d.Alive(c.SA.LastHeard)
	}
	r := h.DPDTick(c)
	if r.DeleteSA {
		r.Why = daemon.RemoveDeadPeer
		return r
	}
	if next := h.DPDNext(c.SA); !next.IsZero() {
		c.At(TimerDPD, next, h.dpdTimer)
	}
	return r
}

// keepaliveTimer sends a NAT keepalive (RFC 3948, 2.3) when nothing else
// went to the peer for the interval: any datagram refreshes the NAT's
// mapping.
func (h *Life) keepaliveTimer(c *daemon.Context) daemon.Result {
	ka := h.keepalives[c.SA]
	if ka == nil {
		return daemon.Result{}
	}
	if !c.SA.LastSent.IsZero() {
		ka.Sent(c.SA.LastSent)
	}
	var r daemon.Result
	if ka.Tick(c.Now) {
		r.Raw = NATKeepalive
	}
	c.At(TimerKeepalive, ka.Next(), h.keepaliveTimer)
	return r
}

// lifetimeTimer ends an ISAKMP SA whose negotiated lifetime is over: the
// peer is told with a Delete (through the daemon's Deleter, which also
// deletes the IPsec SAs negotiated on it, as strongSwan does when it
// deletes an IKEv1 SA), then the SA goes. It comes only when no
// reauthentication (reauth.go) replaced the SA in time: a road warrior
// responder's SA whose peer did not reauthenticate, or a failed
// reauthentication.
func (h *Life) lifetimeTimer(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{}
	}
	if exp := s.Expires(); !exp.IsZero() && c.Now.Before(exp) {
		c.At(TimerLifetime, exp, h.lifetimeTimer)
		return daemon.Result{}
	}
	if c.Log != nil {
		c.Log.Info("ISAKMP SA lifetime expired: deleting it (no reauthentication replaced it)",
			zap.Stringer("cookies", c.SA.Cookies), zap.Stringer("peer", s.Remote),
			zap.Duration("lifetime", s.Transform.Lifetime()))
	}
	c.Terminate(c.SA, daemon.RemoveExpired)
	return daemon.Result{}
}

// Keepalives reports whether NAT keepalives run on sa (for tests and
// ikectl).
func (h *Life) Keepalives(sa *daemon.SA) bool { return h.keepalives[sa] != nil }
