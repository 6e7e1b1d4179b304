package daemon

import (
	"net/netip"
	"time"
)

// rateLimiter bounds the first messages (new ISAKMP SAs) each source address
// may start: a token bucket per address, as wireguard-go's ratelimiter does
// for handshake initiations. The table is bounded: idle buckets are pruned
// when it fills, and a new address finding it still full is refused.
type rateLimiter struct {
	rate    float64 // tokens per second
	burst   float64
	max     int
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxRateEntries bounds the table of source addresses.
const maxRateEntries = 65536

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), max: maxRateEntries, buckets: map[netip.Addr]*bucket{}}
}

// allow takes one token for src at now.
func (l *rateLimiter) allow(src netip.Addr, now time.Time) bool {
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= l.max {
			l.prune(now)
			if len(l.buckets) >= l.max {
				return false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune removes the buckets that have refilled: their sources are idle.
func (l *rateLimiter) prune(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
}
