package daemon

import (
	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// IKE fragmentation, the IKEv1 scheme Cisco introduced and strongSwan
// implements (src/libcharon/encoding/message.c, fragment(); payload 132,
// isakmp/payload_fragment.go): a message too large for the path goes out
// as several ISAKMP messages of one FRAG payload each, which the peer
// joins back into the original datagram. Paths that drop IP fragments
// (firewalls, some NATs) otherwise lose every message carrying
// certificates. docs/policy-file.md, "IKE fragmentation", is the
// operator's view.

// FragmentPathSize is the largest IP datagram an IKE message is sent in
// whole to a peer that takes fragments: strongSwan's default
// charon.fragment_size (1280, IPv6's minimum MTU, for both families).
const FragmentPathSize = 1280

// FragmentUse is what the daemon needs to know to send an SA's messages
// in fragments; phase 1 sets it (phase1/daemon.go). The zero value never
// fragments.
type FragmentUse struct {
	// Mode is the connection's fragmentation key (yes before the
	// connection is known).
	Mode policymgr.Fragmentation
	// Peer: the peer announced support (its FRAGMENTATION Vendor ID).
	Peer bool
	// Exchange is the SA's phase 1 exchange type, which every fragment's
	// header carries, with message ID 0, as strongSwan's do
	// (create_fragment in message.c).
	Exchange isakmp.ExchangeType
}

// on reports whether messages over the limit go in fragments.
func (f FragmentUse) on() bool {
	return f.Mode == policymgr.FragmentForce || (f.Mode == policymgr.FragmentYes && f.Peer)
}

// fragmentLimit is the largest ISAKMP message sent whole to remote: the
// path size less the IP and UDP headers and, on the NAT-T port, the
// non-ESP marker (RFC 3948, 2.2).
func fragmentLimit(sa *SA, natt bool) int {
	n := FragmentPathSize - 8 - 20
	if sa.Remote.Addr().Is6() && !sa.Remote.Addr().Is4In6() {
		n = FragmentPathSize - 8 - 40
	}
	if natt {
		n -= len(nonESPMarker)
	}
	return n
}

// fragment cuts msg into fragment messages when it is over the limit and
// the SA's FragmentUse says so; nil means send it whole. Each call numbers
// its fragments with a fresh fragment ID, so that a retransmission is a
// new set the peer reassembles from scratch (strongSwan starts over on a
// new ID, add_fragment_v1 in message.c).
func (d *Daemon) fragment(sa *SA, msg []byte, natt bool) [][]byte {
	limit := fragmentLimit(sa, natt)
	if len(msg) <= limit || !sa.Fragments.on() {
		return nil
	}
	h, err := isakmp.ParseHeader(msg)
	if err != nil {
		return nil
	}
	h.MessageID = 0
	if sa.Fragments.Exchange != isakmp.ExchangeNone {
		h.Exchange = sa.Fragments.Exchange
	}
	sa.fragID++
	if sa.fragID == 0 {
		sa.fragID = 1
	}
	frags, err := isakmp.FragmentMessage(h, msg, sa.fragID, limit)
	if err != nil {
		// More than isakmp.MaxFragments: send it whole and let IP
		// fragment it.
		d.log.Debug("message not fragmented", zap.Stringer("cookies", sa.Cookies), zap.Int("bytes", len(msg)), zap.Error(err))
		return nil
	}
	d.Counters.Fragmented.Add(1)
	d.log.Debug("sending a message in fragments", zap.Stringer("cookies", sa.Cookies), zap.Stringer("to", sa.Remote),
		zap.Int("bytes", len(msg)), zap.Int("fragments", len(frags)), zap.Uint16("fragment-id", sa.fragID),
		zap.Stringer("mode", sa.Fragments.Mode), zap.Bool("peer-announced", sa.Fragments.Peer))
	return frags
}
