package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
)

// Reassembly of IKE fragments (fragment.go has the sending side). The
// fragments of one message share the ISAKMP SA's cookies, the sender's
// address and a fragment ID; they are held until the one flagged last and
// every number before it have arrived, then joined (isakmp.Reassemble) and
// the message goes through receive like any datagram. Fragments are
// accepted whatever a connection's fragmentation key says, as strongSwan
// accepts them. Everything held is bounded, and every fragment that does
// not end in a message is counted as a drop:
const (
	// ReassemblyMaxFragments caps the fragments of one message.
	ReassemblyMaxFragments = isakmp.MaxFragments
	// ReassemblyMaxBytes caps one reassembled message: three times what a
	// chain of three RSA-4096 certificates takes.
	ReassemblyMaxBytes = 32 << 10
	// ReassemblyPerSource caps what one source address has held: two
	// messages of the largest size at once.
	ReassemblyPerSource = 2 * ReassemblyMaxBytes
	// ReassemblyTotal caps what all sources have held.
	ReassemblyTotal = 4 << 20
	// ReassemblyTimeout is how long the fragments of a message are held
	// after the first arrived: long enough for the peer's retransmissions
	// (strongSwan's come after 4, 11 and 24 s) to fill a gap.
	ReassemblyTimeout = 30 * time.Second
	// fragmentCost is what one held fragment is charged beyond its bytes,
	// so that a flood of tiny fragments is bounded too.
	fragmentCost = 64
)

// reasmKey names the message a fragment belongs to.
type reasmKey struct {
	remote  netip.AddrPort
	cookies Cookies
}

// reasmBuf holds the fragments of one message so far.
type reasmBuf struct {
	key   reasmKey
	id    uint16
	frags []*isakmp.Fragment
	have  uint64 // bit n-1 set: fragment n held
	last  uint8  // the number flagged last, 0 until it arrived
	size  int    // fragment data held
	cost  int    // charged against the source's and the daemon's caps
	timer Timer
}

// reassembly is the loop's fragment store.
type reassembly struct {
	bufs     map[reasmKey]*reasmBuf
	bySource map[netip.Addr]int
	total    int
}

// isFragment reports whether p is an IKE fragment: a message in clear
// whose first payload is FRAG.
func isFragment(p *Packet) bool {
	return p.Header.NextPayload == isakmp.PayloadFragment && p.Header.Flags&isakmp.FlagEncryption == 0
}

// reassemble takes one fragment and returns the message it completes,
// for receive, or nil. It runs on the loop. A panic, which would be a bug,
// is recovered and counted, as inspect's is.
func (d *Daemon) reassemble(p *Packet) (whole *Packet) {
	defer func() {
		if r := recover(); r != nil {
			d.Counters.CountDrop(DropPanic)
			d.log.Error("recovered from a panic on a received fragment", zap.String("panic", fmt.Sprint(r)),
				zap.Stringer("from", p.Remote))
			whole = nil
		}
	}()
	dg := Datagram{Remote: p.Remote}
	m, err := isakmp.Decode(p.Data)
	if err != nil {
		d.drop(DropFragment, dg, err)
		return nil
	}
	var f *isakmp.Fragment
	if len(m.Payloads) == 1 {
		f, _ = m.Payloads[0].(*isakmp.Fragment)
	}
	switch {
	case f == nil:
		d.drop(DropFragment, dg, fmt.Errorf("fragment message %s", m.Summary()))
		return nil
	case f.Number == 0 || int(f.Number) > ReassemblyMaxFragments:
		d.drop(DropFragment, dg, fmt.Errorf("fragment number %d", f.Number))
		return nil
	}
	h := p.Header
	key := reasmKey{remote: p.Remote, cookies: Cookies{h.InitiatorCookie, h.ResponderCookie}}
	if h.ResponderCookie != ([8]byte{}) && d.sas[key.cookies] == nil {
		if s, ok := d.byInit[h.InitiatorCookie]; !ok || s.Cookies.R != ([8]byte{}) {
			d.drop(DropNoSA, dg, fmt.Errorf("fragment for cookies %s", key.cookies))
			return nil
		}
	}
	r := &d.reasm
	if r.bufs == nil {
		r.bufs, r.bySource = map[reasmKey]*reasmBuf{}, map[netip.Addr]int{}
	}
	b := r.bufs[key]
	if b != nil && b.id != f.ID {
		d.log.Debug("fragments discarded for a new fragment ID", zap.Stringer("from", p.Remote),
			zap.Stringer("cookies", key.cookies), zap.Uint16("fragment-id", b.id), zap.Uint16("new-id", f.ID))
		d.discardFragments(b, DropFragmentStale)
		b = nil
	}
	bit := uint64(1) << (f.Number - 1)
	switch {
	case b != nil && b.have&bit != 0:
		d.drop(DropFragmentDuplicate, dg, fmt.Errorf("fragment %d of ID %d again", f.Number, f.ID))
		return nil
	case f.Last() && b != nil && (b.last != 0 || b.have >= bit):
		// A second last fragment, or one numbered below one held.
		d.drop(DropFragment, dg, fmt.Errorf("fragment %d of ID %d flagged last", f.Number, f.ID))
		return nil
	case !f.Last() && b != nil && b.last != 0 && f.Number > b.last:
		d.drop(DropFragment, dg, fmt.Errorf("fragment %d of ID %d after the last, %d", f.Number, f.ID, b.last))
		return nil
	}
	size := len(f.Data)
	if b != nil {
		size += b.size
	}
	if size > ReassemblyMaxBytes {
		d.drop(DropFragmentTooLarge, dg, fmt.Errorf("fragments of ID %d reach %d bytes", f.ID, size))
		if b != nil {
			d.discardFragments(b, DropFragmentTooLarge)
		}
		return nil
	}
	cost := len(p.Data) + fragmentCost
	src := p.Remote.Addr()
	if r.bySource[src]+cost > ReassemblyPerSource || r.total+cost > ReassemblyTotal {
		d.drop(DropFragmentMemory, dg, fmt.Errorf("%d bytes held for %s, %d in all", r.bySource[src], src, r.total))
		return nil
	}
	if b == nil {
		b = &reasmBuf{key: key, id: f.ID}
		r.bufs[key] = b
		b.timer = d.clock.AfterFunc(ReassemblyTimeout, func() {
			d.post(func() {
				if d.reasm.bufs[key] == b {
					d.log.Debug("fragments discarded: message incomplete", zap.Stringer("from", key.remote),
						zap.Stringer("cookies", key.cookies), zap.Uint16("fragment-id", b.id), zap.Int("held", len(b.frags)))
					d.discardFragments(b, DropFragmentStale)
				}
			})
		})
	}
	b.frags = append(b.frags, f)
	b.have |= bit
	b.size += len(f.Data)
	b.cost += cost
	r.bySource[src] += cost
	r.total += cost
	if f.Last() {
		b.last = f.Number
	}
	d.Counters.FragmentsReceived.Add(1)
	if b.last == 0 || len(b.frags) != int(b.last) {
		d.log.Debug("received a fragment", zap.Stringer("from", p.Remote), zap.Stringer("cookies", key.cookies),
			zap.Uint16("fragment-id", f.ID), zap.Uint8("number", f.Number), zap.Bool("last", f.Last()), zap.Int("held", len(b.frags)))
		return nil
	}
	d.forgetFragments(b)
	joined, err := isakmp.Reassemble(b.frags)
	if err == nil {
		err = d.checkReassembled(joined, key)
	}
	if err != nil {
		d.Counters.drops[DropReassembled].Add(uint64(len(b.frags)))
		d.log.Debug("dropped reassembled message", zap.Stringer("from", p.Remote), zap.Error(err))
		return nil
	}
	hw, _ := isakmp.ParseHeader(joined)
	d.Counters.Reassembled.Add(1)
	d.log.Debug("reassembled a message from fragments", zap.Stringer("from", p.Remote), zap.Stringer("cookies", key.cookies),
		zap.Uint16("fragment-id", f.ID), zap.Int("fragments", len(b.frags)), zap.Int("bytes", len(joined)),
		zap.Stringer("exchange", hw.Exchange), zap.Uint32("message-id", hw.MessageID))
	return &Packet{Header: hw, Data: joined, Local: p.Local, Remote: p.Remote, NATT: p.NATT}
}

// errReassembled is the error of a reassembled message refused.
var errReassembled = errors.New("daemon: reassembled message refused")

// checkReassembled runs on a joined message the header checks a datagram
// gets (inspect), and requires the cookies of its fragments: a fragment
// set cannot carry a message of another SA, nor another set.
func (d *Daemon) checkReassembled(whole []byte, key reasmKey) error {
	h, err := isakmp.ParseHeader(whole)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", errReassembled, err)
	case (Cookies{h.InitiatorCookie, h.ResponderCookie}) != key.cookies:
		return fmt.Errorf("%w: cookies %s in fragments of %s", errReassembled, Cookies{h.InitiatorCookie, h.ResponderCookie}, key.cookies)
	case h.NextPayload == isakmp.PayloadFragment && h.Flags&isakmp.FlagEncryption == 0:
		return fmt.Errorf("%w: a fragment inside fragments", errReassembled)
	case !knownExchange(h.Exchange):
		return fmt.Errorf("%w: exchange %s", errReassembled, h.Exchange)
	}
	return nil
}

// discardFragments drops a message's held fragments, each counted.
func (d *Daemon) discardFragments(b *reasmBuf, why Drop) {
	d.forgetFragments(b)
	d.Counters.drops[why].Add(uint64(len(b.frags)))
}

// forgetFragments removes a buffer from the store and releases its charge.
func (d *Daemon) forgetFragments(b *reasmBuf) {
	r := &d.reasm
	if r.bufs[b.key] == b {
		delete(r.bufs, b.key)
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	src := b.key.remote.Addr()
	r.total -= b.cost
	if r.bySource[src] -= b.cost; r.bySource[src] <= 0 {
		delete(r.bySource, src)
	}
	b.cost = 0
}
