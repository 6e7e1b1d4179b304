package daemon

import (
	"net/netip"
	"time"
)

// Admission of new responder SAs (first messages of Main and Aggressive
// Mode). Thousands of clients may share one address behind a NAT, so a
// source address is not limited while the half-open table is quiet; the
// per-source limits bite only under load, as wireguard-go's receive path
// (device/receive.go) demands cookies and rate-limits handshake
// initiations only when its handshake queue is filling. The table is under
// load when its half-open SAs plus the failures still charged to their
// sources reach Settings.LoadHalfOpen. Then:
//
//   - a source holding PerSourceHalfOpen half-open SAs (failures charged
//     included) starts no new one: its share of the table;
//   - an Aggressive Mode first message, which costs a Diffie-Hellman
//     computation and a HASH_R or signature before its sender has shown
//     that it receives at its address, is deferred (dropped: the peer
//     retransmits) while its source holds any half-open SA or charge;
//   - each source starts at most RateLimit new SAs a second (RateBurst at
//     once): a token bucket per address.
//
// A half-open SA that cost us worker-pool work (Diffie-Hellman) and then
// failed (a bad KE, a wrong hash) stays charged to its source for the
// half-open lifetime, as if it were still there, so that failing fast
// does not buy a flood more computations.

// admission is the per-source table. The loop owns it.
type admission struct {
	sources map[netip.Addr]*source
	charges []charge // failures charged, oldest first
	charged int      // len of the live part of charges
	max     int      // bound of sources
}

// source is what one address holds and may still start.
type source struct {
	halfOpen int
	charges  int
	tokens   float64
	last     time.Time
}

type charge struct {
	src   netip.Addr
	until time.Time
}

// Refusal is why a first message was not admitted; admitOK admits it.
type refusal uint8

const (
	admitOK refusal = iota
	refuseShare
	refuseAggressive
	refuseRate
	refuseTable
)

// maxSources bounds the table of source addresses; maxCharges the charges
// remembered (the oldest are forgotten first).
const (
	maxSources = 65536
	maxCharges = 65536
)

func newAdmission() *admission {
	return &admission{sources: map[netip.Addr]*source{}, max: maxSources}
}

// expire forgets the charges whose time is over.
func (a *admission) expire(now time.Time) {
	i := 0
	for ; i < len(a.charges) && !now.Before(a.charges[i].until); i++ {
		a.uncharge(a.charges[i].src)
	}
	if i > 0 {
		a.charges = append(a.charges[:0], a.charges[i:]...)
	}
}

func (a *admission) uncharge(src netip.Addr) {
	a.charged--
	if s := a.sources[src]; s != nil && s.charges > 0 {
		s.charges--
	}
}

// underLoad reports whether the per-source limits apply.
func (a *admission) underLoad(halfOpen int, s *Settings) bool {
	return halfOpen+a.charged >= s.LoadHalfOpen
}

// admit decides on a first message from src; aggressive says it is
// Aggressive Mode's. halfOpen is the table's count now. It does not count
// the SA in: opened does, once the SA exists.
func (a *admission) admit(src netip.Addr, aggressive bool, halfOpen int, s *Settings, now time.Time) refusal {
	a.expire(now)
	if !a.underLoad(halfOpen, s) {
		return admitOK
	}
	e := a.sources[src]
	if e == nil {
		if len(a.sources) >= a.max {
			a.prune(now, s)
			if len(a.sources) >= a.max {
				return refuseTable
			}
		}
		e = &source{tokens: float64(s.RateBurst), last: now}
		a.sources[src] = e
	}
	held := e.halfOpen + e.charges
	switch {
	case held >= s.PerSourceHalfOpen:
		return refuseShare
	case aggressive && held > 0:
		return refuseAggressive
	}
	if el := now.Sub(e.last).Seconds(); el > 0 {
		e.tokens = min(float64(s.RateBurst), e.tokens+el*s.RateLimit)
	}
	e.last = now
	if e.tokens < 1 {
		return refuseRate
	}
	e.tokens--
	return admitOK
}

// opened counts a new half-open SA of src.
func (a *admission) opened(src netip.Addr, s *Settings, now time.Time) {
	e := a.sources[src]
	if e == nil {
		if len(a.sources) >= a.max {
			a.prune(now, s)
		}
		e = &source{tokens: float64(s.RateBurst), last: now}
		a.sources[src] = e
	}
	e.halfOpen++
}

// closed counts a half-open SA of src out (established or removed); a
// failure that cost work is charged to src until the half-open lifetime
// after now.
func (a *admission) closed(src netip.Addr, charged bool, s *Settings, now time.Time) {
	e := a.sources[src]
	if e == nil {
		return
	}
	if e.halfOpen > 0 {
		e.halfOpen--
	}
	if charged {
		if len(a.charges) >= maxCharges {
			a.uncharge(a.charges[0].src)
			a.charges = a.charges[1:]
		}
		a.charges = append(a.charges, charge{src: src, until: now.Add(s.HalfOpenLifetime)})
		a.charged++
		e.charges++
	}
}

// held returns what src holds: half-open SAs and charged failures.
func (a *admission) held(src netip.Addr) (halfOpen, charges int) {
	if e := a.sources[src]; e != nil {
		return e.halfOpen, e.charges
	}
	return 0, 0
}

// prune removes the sources that hold nothing and whose bucket has
// refilled: they are idle.
func (a *admission) prune(now time.Time, s *Settings) {
	for k, e := range a.sources {
		if e.halfOpen == 0 && e.charges == 0 && e.tokens+now.Sub(e.last).Seconds()*s.RateLimit >= float64(s.RateBurst) {
			delete(a.sources, k)
		}
	}
}
