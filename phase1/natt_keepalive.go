package phase1

import "time"

// NAT keepalives (RFC 3948, 2.3 and 4): the end behind a NAT sends a
// one-octet UDP datagram 0xFF to the peer's NAT-T port so that the NAT
// keeps its mapping while the SA is idle. strongSwan sends one every 20 s
// (charon.keep_alive), well below the 60 s or so after which common NATs
// drop a UDP mapping.

// NATKeepalive is the keepalive datagram (RFC 3948, 2.3).
var NATKeepalive = []byte{0xff}

// DefaultKeepaliveInterval is strongSwan's default keep_alive.
const DefaultKeepaliveInterval = 20 * time.Second

// Keepalive decides when to send NAT keepalives for one SA. Like DPD it
// keeps no timer: the loop calls Tick when Next says and reports every
// datagram it sent to the peer with Sent (any packet refreshes the NAT
// mapping, so a keepalive is only due after Interval of our silence).
type Keepalive struct {
	Interval time.Duration
	lastSent time.Time
}

// NewKeepalive starts keepalives for an SA that floated at now, or returns
// nil when none are needed: we are not behind a NAT (RFC 3948, 4: only the
// end behind the NAT sends them) or the interval is not positive.
func NewKeepalive(s *SA, interval time.Duration, now time.Time) *Keepalive {
	if !s.LocalBehindNAT || interval <= 0 {
		return nil
	}
	return &Keepalive{Interval: interval, lastSent: now}
}

// Sent records a datagram sent to the peer at now.
func (k *Keepalive) Sent(now time.Time) {
	if now.After(k.lastSent) {
		k.lastSent = now
	}
}

// Next returns when the next keepalive is due.
func (k *Keepalive) Next() time.Time { return k.lastSent.Add(k.Interval) }

// Tick reports whether to send NATKeepalive now; if so it counts it as
// sent.
func (k *Keepalive) Tick(now time.Time) bool {
	if now.Before(k.Next()) {
		return false
	}
	k.lastSent = now
	return true
}
