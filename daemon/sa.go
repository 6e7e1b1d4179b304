package daemon

import (
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/iked/iked/isakmp"
)

// Cookies identify an ISAKMP SA (RFC 2408, 2.5.3 and 3.1): the initiator's
// and the responder's cookie. The responder cookie is zero until the
// responder has answered.
type Cookies struct {
	I, R [8]byte
}

func (c Cookies) String() string {
	return hex.EncodeToString(c.I[:]) + ":" + hex.EncodeToString(c.R[:])
}

// SA is one ISAKMP SA in the loop's table. Package phase1 keeps its keys
// and negotiation state as the SA's Phase1State; quickmode/ reads them
// through phase1.StateOf.
type SA struct {
	Cookies Cookies
	Role    Role
	// Local and Remote are where messages of this SA go; phase1 moves them
	// to the NAT-T port when it detects a NAT (RFC 3947, 4).
	Local, Remote netip.AddrPort
	Conn          string
	Established   bool
	Created       time.Time
	// LastHeard is when a message of this SA was last accepted (proof
	// that the peer lives, RFC 3706, 5.3); LastSent when we last sent it
	// a datagram (which refreshes a NAT mapping, RFC 3948, 4).
	LastHeard, LastSent time.Time
	// Fragments says whether messages too large for the path go in
	// fragments (fragment.go).
	Fragments FragmentUse

	phase1      Phase1State // Phase1, SetPhase1
	exchanges   map[uint32]*running
	history     idHistory  // finished message IDs (replay.go)
	historyFull bool       // MaxMessageIDs reached: being deleted
	timers      []*saTimer // named timers (satimer.go)
	removed     bool       // the watchers were told
	indexed     *indexKey  // where byConn holds it, once established
	halfOpen    Timer      // responder SAs until authenticated
	first       *firstKey
	// source is the address a responder SA was admitted from (admission.go);
	// jobs counts the worker-pool jobs its exchanges asked for.
	source netip.Addr
	jobs   int
	// tokens are the engine requests of its exchanges still waiting for
	// an answer (Daemon.tokens holds them; Context.Token), so that
	// removing the SA visits its own, not every SA's.
	tokens []uint64
	fragID uint16 // the fragment ID of the last message sent in fragments
	// held are messages of new exchanges (a Quick Mode, a Transaction)
	// that came while the last phase 1 message was with the worker pool;
	// they are received once it is done (receive.go holdBehindPhase1).
	held []*Packet
	// initiating: a phase 1 we initiated to initPeer, not yet
	// established, counted in Daemon.starts (initiating.go).
	initiating bool
	initPeer   netip.Addr
}

// Phase1State is what phase 1 keeps of an ISAKMP SA: its keys and the
// state of its negotiation (package phase1's *SA implements it). The daemon
// holds it without looking in; phase1.StateOf returns it with its own type.
type Phase1State interface {
	// Alive reports whether the SA still holds its keys.
	Alive() bool
	// Wipe zeroes the keys; the SA is then deleted.
	Wipe()
}

// Phase1 returns phase 1's state of the SA, nil until phase 1 sets one.
func (sa *SA) Phase1() Phase1State { return sa.phase1 }

// SetPhase1 makes st phase 1's state of the SA.
func (sa *SA) SetPhase1(st Phase1State) { sa.phase1 = st }

// peerSet is the entry of Daemon.byConn for one connection and peer
// address: its SAs, and the key every one of them points to (SA.indexed)
// rather than each its own copy.
type peerSet struct {
	key indexKey
	sas map[*SA]struct{}
}

// indexKey is where Daemon.byConn holds an established SA.
type indexKey struct {
	conn string
	peer netip.Addr
}

// firstKey finds the responder SA of a retransmitted first message, which
// still carries a zero responder cookie.
type firstKey struct {
	I      [8]byte
	Remote netip.AddrPort
}

// running is the loop's record of one exchange: the exchange itself, what it
// last received and sent (the cache that answers retransmissions), and its
// retransmission timer.
type running struct {
	id   uint32
	typ  isakmp.ExchangeType
	ex   Exchange
	busy bool // waiting for the worker pool

	lastIn  [32]byte // SHA-256 of the last message consumed
	haveIn  bool
	lastOut []byte // the last message sent, as framed for the wire
	// answers: lastOut was sent after lastIn was consumed, so it is the
	// answer to resend for a copy of lastIn. A copy of an exchange's last
	// message (QM3, MM6 to the initiator) has none: resending the message
	// before it would make two peers answer each other's copies for ever.
	answers bool
	request bool // lastOut awaits an answer

	tries   int
	timeout time.Duration
	timer   Timer
	gen     uint64 // invalidates timers that fired after being replaced

	done      bool
	doneTimer Timer
}

// addExchange files run under its message ID. The map exists only while
// the SA has exchanges: an established SA with none (the usual state)
// holds no table for them.
func (sa *SA) addExchange(run *running) {
	if sa.exchanges == nil {
		sa.exchanges = map[uint32]*running{}
	}
	sa.exchanges[run.id] = run
}

// dropExchange forgets the exchange with message ID id.
func (sa *SA) dropExchange(id uint32) {
	delete(sa.exchanges, id)
	if len(sa.exchanges) == 0 {
		sa.exchanges = nil
	}
}

func (r *running) stopTimers() {
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.doneTimer != nil {
		r.doneTimer.Stop()
		r.doneTimer = nil
	}
}

func (r *running) state() string {
	switch {
	case r.done:
		return "done"
	case r.busy:
		return "computing"
	case r.ex != nil:
		return r.ex.State()
	}
	return "?"
}
