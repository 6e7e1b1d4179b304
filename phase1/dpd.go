package phase1

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/iked/iked/isakmp"
)

// Dead Peer Detection (RFC 3706): when a peer has been silent for a while
// and both ends announced the DPD Vendor ID, send R-U-THERE (a protected
// informational notify 36136 with the cookies as SPI and a 4-byte sequence
// number as data); the peer answers R-U-THERE-ACK (36137) with the same
// number. No answer within the timeout: the peer is dead, its SAs go.
//
// DPD is a state machine over explicit times, with no clock or timer of its
// own: the daemon's loop calls Tick when Next says, and reports traffic
// with Alive, so tests drive it in virtual time.

// DPDConfig is the policy's daemon.dpd: Delay is the idle time before a
// probe (and between probes), Timeout how long unanswered probes may last
// before the peer is declared dead.
type DPDConfig struct {
	Delay   time.Duration
	Timeout time.Duration
}

// DPDState is where the DPD of one ISAKMP SA stands.
type DPDState uint8

const (
	// DPDIdle: traffic from the peer is recent enough; nothing to do.
	DPDIdle DPDState = iota
	// DPDProbing: R-U-THERE sent, no ACK yet.
	DPDProbing
	// DPDDead: the timeout passed without an ACK.
	DPDDead
)

// String names the state for ikectl and the debug log.
func (s DPDState) String() string {
	switch s {
	case DPDIdle:
		return "idle"
	case DPDProbing:
		return "probing"
	case DPDDead:
		return "dead"
	}
	return fmt.Sprintf("DPDState(%d)", uint8(s))
}

// DPDAction is what Tick asks the caller to do.
type DPDAction uint8

const (
	// DPDNone: nothing now; call Tick again at Next.
	DPDNone DPDAction = iota
	// DPDSend: send R-U-THERE with the sequence number Tick returned.
	DPDSend
	// DPDDeclareDead: the peer is dead; delete its ISAKMP SA and IPsec SAs
	// (and log it).
	DPDDeclareDead
)

// String names the action.
func (a DPDAction) String() string {
	switch a {
	case DPDNone:
		return "none"
	case DPDSend:
		return "send R-U-THERE"
	case DPDDeclareDead:
		return "peer dead"
	}
	return fmt.Sprintf("DPDAction(%d)", uint8(a))
}

// DPD is the Dead Peer Detection state of one ISAKMP SA.
type DPD struct {
	cfg   DPDConfig
	state DPDState
	// seq is the last sequence number we sent; firstSeq the first of the
	// current run of unanswered probes (an ACK of any of them counts).
	seq, firstSeq uint32
	// lastHeard is the last time the peer proved alive (an authenticated
	// message or an ACK); probeStart when the current probing began;
	// lastProbe when the last R-U-THERE went out.
	lastHeard, probeStart, lastProbe time.Time
	// peerSeq is the last R-U-THERE number the peer sent (RFC 3706, 7:
	// replays are detected by the sequence number).
	peerSeq     uint32
	havePeerSeq bool
}

// NewDPD starts DPD for an SA established at now. The first sequence number
// is random in [1, 2^31), leaving room before it wraps (RFC 3706, 7:
// "the initial sequence number SHOULD be chosen at random").
func NewDPD(cfg DPDConfig, now time.Time, rand io.Reader) (*DPD, error) {
	if cfg.Delay <= 0 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("phase1: DPD delay %v and timeout %v must be positive", cfg.Delay, cfg.Timeout)
	}
	var b [4]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, err
	}
	seq := binary.BigEndian.Uint32(b[:])&0x7fffffff | 1
	return &DPD{cfg: cfg, seq: seq - 1, lastHeard: now}, nil
}

// State returns the current state.
func (d *DPD) State() DPDState { return d.state }

// Seq returns the last sequence number sent.
func (d *DPD) Seq() uint32 { return d.seq }

// Alive records that the peer proved alive at now: any message of the SA
// that authenticated (RFC 3706, 5.3: traffic in itself is proof of
// liveness). A dead peer stays dead, and traffic from before the current
// probing began proves nothing new (the loop reports the time of the last
// message it accepted, which may be older than the first R-U-THERE).
func (d *DPD) Alive(now time.Time) {
	if d.state == DPDDead || (d.state == DPDProbing && now.Before(d.probeStart)) {
		return
	}
	if now.After(d.lastHeard) {
		d.lastHeard = now
	}
	d.state = DPDIdle
}

// Next returns when Tick should next be called.
func (d *DPD) Next() time.Time {
	switch d.state {
	case DPDProbing:
		dead := d.probeStart.Add(d.cfg.Timeout)
		if again := d.lastProbe.Add(d.cfg.Delay); again.Before(dead) {
			return again
		}
		return dead
	case DPDDead:
		return time.Time{}
	}
	return d.lastHeard.Add(d.cfg.Delay)
}

// Tick advances the state machine to now. DPDSend comes with the sequence
// number to put in the R-U-THERE; each probe gets a new number (RFC 3706,
// 7), and probes repeat every Delay until Timeout after the first.
func (d *DPD) Tick(now time.Time) (DPDAction, uint32) {
	switch d.state {
	case DPDIdle:
		if now.Before(d.lastHeard.Add(d.cfg.Delay)) {
			return DPDNone, 0
		}
		d.state, d.probeStart = DPDProbing, now
		d.firstSeq = d.seq + 1
		return d.probe(now)
	case DPDProbing:
		if !now.Before(d.probeStart.Add(d.cfg.Timeout)) {
			d.state = DPDDead
			return DPDDeclareDead, 0
		}
		if !now.Before(d.lastProbe.Add(d.cfg.Delay)) {
			return d.probe(now)
		}
	}
	return DPDNone, 0
}

func (d *DPD) probe(now time.Time) (DPDAction, uint32) {
	d.seq++
	d.lastProbe = now
	return DPDSend, d.seq
}

// Ack takes an R-U-THERE-ACK with sequence number seq (RFC 3706, 5.1: it
// must echo one we sent). It reports whether the ACK was expected; an
// unexpected one changes nothing.
func (d *DPD) Ack(now time.Time, seq uint32) bool {
	if d.state != DPDProbing || seq-d.firstSeq > d.seq-d.firstSeq {
		return false
	}
	d.state = DPDIdle
	if now.After(d.lastHeard) {
		d.lastHeard = now
	}
	return true
}

// RUThere takes the peer's R-U-THERE with sequence number seq and reports
// whether it replays a number not newer than the last one (RFC 3706, 7:
// the sequence number protects against replays). A fresh one is answered
// with an R-U-THERE-ACK echoing seq (RFC 3706, 5.1) and is proof the peer
// is alive; a replay is dropped.
func (d *DPD) RUThere(now time.Time, seq uint32) (replay bool) {
	replay = d.havePeerSeq && int32(seq-d.peerSeq) <= 0
	if !replay {
		d.peerSeq, d.havePeerSeq = seq, true
		d.Alive(now)
	}
	return replay
}

// DPDNotify returns the R-U-THERE (ack false) or R-U-THERE-ACK notify with
// sequence number seq (RFC 3706, 5: protocol ISAKMP, SPI the two cookies,
// data the 32-bit sequence number).
func (k *InfoKeys) DPDNotify(ack bool, seq uint32) *isakmp.Notification {
	t := isakmp.DPDRUThere
	if ack {
		t = isakmp.DPDRUThereAck
	}
	return k.ISAKMPNotify(t, binary.BigEndian.AppendUint32(nil, seq))
}

// DPDEnabled reports whether DPD runs on s: configured locally (delay > 0)
// and announced by the peer's Vendor ID (RFC 3706, 4: "both peers MUST
// indicate support").
func DPDEnabled(s *SA, cfg DPDConfig) bool {
	return s.PeerDPD && cfg.Delay > 0 && cfg.Timeout > 0
}
