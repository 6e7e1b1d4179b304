package daemon

import (
	"fmt"
	"sync/atomic"

	"github.com/iked/iked/control"
)

// Drop is why a received datagram was dropped. Every reason has its own
// counter so that an operator can tell a scan from a broken peer.
type Drop uint8

const (
	DropShort             Drop = iota // shorter than the ISAKMP header (RFC 2408, 3.1)
	DropVersion                       // major version not 1 or minor not 0
	DropFlags                         // undefined header flag
	DropLength                        // header length differs from the datagram's
	DropExchange                      // exchange type iked does not run
	DropESP                           // ESP on the NAT-T port with no kernel decapsulation
	DropZeroCookie                    // initiator cookie zero (RFC 2408, 2.5.3)
	DropNoSA                          // no ISAKMP SA for the cookie pair
	DropNotFirst                      // a new SA begun with a message that cannot start one
	DropHalfOpen                      // half-open limit reached
	DropRateLimit                     // too many first messages from one source
	DropNoHandler                     // no handler registered for the exchange type
	DropRejected                      // the handler refused it (decode error, bad hash, wrong state)
	DropBusy                          // the exchange is waiting for the worker pool or the engine
	DropPoolFull                      // the worker pool's queue is full
	DropLoopFull                      // the event loop's queue is full
	DropPanic                         // a reader or handler panicked: recovered, counted
	DropNoPolicy                      // no policy loaded (message 53)
	DropReplay                        // the message ID of an exchange that already finished (replay.go)
	DropSourceShare                   // under load, the source holds its share of the half-open table (admission.go)
	DropDeferred                      // under load, Aggressive Mode from a source that holds a half-open SA (admission.go)
	DropFragment                      // a malformed IKE fragment (reassembly.go)
	DropFragmentDuplicate             // a fragment number already held
	DropFragmentTooLarge              // over the fragments or bytes one message may have
	DropFragmentMemory                // over the reassembly memory of its source or of the daemon
	DropFragmentStale                 // held fragments of a message never completed (timeout, or a new fragment ID)
	DropReassembled                   // a reassembled message whose header is wrong
	numDrops
)

var dropNames = [numDrops]string{
	DropShort:       "short",
	DropVersion:     "bad-version",
	DropFlags:       "bad-flags",
	DropLength:      "bad-length",
	DropExchange:    "unknown-exchange",
	DropESP:         "esp-on-natt-port",
	DropZeroCookie:  "zero-cookie",
	DropNoSA:        "no-sa",
	DropNotFirst:    "not-first-message",
	DropHalfOpen:    "half-open-limit",
	DropRateLimit:   "rate-limit",
	DropNoHandler:   "no-handler",
	DropRejected:    "rejected",
	DropBusy:        "busy",
	DropPoolFull:    "pool-full",
	DropLoopFull:    "loop-full",
	DropPanic:       "panic",
	DropNoPolicy:    "no-policy",
	DropReplay:      "replay",
	DropSourceShare: "source-share",
	DropDeferred:    "aggressive-deferred",

	DropFragment:          "bad-fragment",
	DropFragmentDuplicate: "fragment-duplicate",
	DropFragmentTooLarge:  "fragment-too-large",
	DropFragmentMemory:    "fragment-memory",
	DropFragmentStale:     "fragment-stale",
	DropReassembled:       "bad-reassembly",
}

func (d Drop) String() string {
	if d < numDrops {
		return dropNames[d]
	}
	return fmt.Sprintf("Drop(%d)", uint8(d))
}

// Counters are the daemon's statistics. They are atomics because readers
// count before the loop sees a datagram and the control server reads them
// from its own goroutines.
type Counters struct {
	Datagrams      atomic.Uint64 // read from a socket
	Bytes          atomic.Uint64
	Keepalives     atomic.Uint64 // NAT-T keepalives (RFC 3948, 2.3), dropped
	Accepted       atomic.Uint64 // handed to an exchange
	CachedReplies  atomic.Uint64 // a retransmitted request answered from the cache
	Sent           atomic.Uint64
	SendErrors     atomic.Uint64
	Retransmits    atomic.Uint64 // our requests sent again
	GaveUp         atomic.Uint64 // exchanges abandoned after the last retransmission
	HalfOpenExpiry atomic.Uint64 // responder SAs never authenticated, removed
	WorkDone       atomic.Uint64 // exchange work finished: the pool's jobs and the loop's cheap ones (Result.Cheap)
	IODone         atomic.Uint64 // I/O pool jobs finished (Result.IO)
	IORefused      atomic.Uint64 // I/O pool jobs refused: pool busy, queue full
	EngineDropped  atomic.Uint64 // requests the engine queue refused
	EngineWaits    atomic.Uint64 // informational datagrams left waiting (and overflow pauses) while the engine's queue was more than half full
	Reloads        atomic.Uint64
	ReloadFailures atomic.Uint64
	Timers         atomic.Uint64 // per-SA timers run (DPD, keepalive, lifetime)
	KeepalivesSent atomic.Uint64 // NAT-T keepalives we sent (RFC 3948, 2.3)
	HistoryFull    atomic.Uint64 // ISAKMP SAs deleted with MaxMessageIDs remembered (replay.go)
	// IKE fragmentation (fragment.go, reassembly.go).
	FragmentsReceived atomic.Uint64 // fragments held for reassembly
	Reassembled       atomic.Uint64 // messages joined from fragments
	Fragmented        atomic.Uint64 // messages we sent in fragments
	FragmentsSent     atomic.Uint64 // the fragments of those (retransmissions included)
	SARemoved         [numRemoveReasons]atomic.Uint64
	drops             [numDrops]atomic.Uint64
}

// CountDrop counts one dropped datagram.
func (c *Counters) CountDrop(d Drop) {
	if d < numDrops {
		c.drops[d].Add(1)
	}
}

// Dropped returns the count for one reason.
func (c *Counters) Dropped(d Drop) uint64 {
	if d < numDrops {
		return c.drops[d].Load()
	}
	return 0
}

// DroppedTotal is the sum over every reason.
func (c *Counters) DroppedTotal() uint64 {
	var n uint64
	for i := range c.drops {
		n += c.drops[i].Load()
	}
	return n
}

func (c *Counters) received() []control.Counter {
	return []control.Counter{
		{Name: "datagrams", Value: c.Datagrams.Load()},
		{Name: "bytes", Value: c.Bytes.Load()},
		{Name: "keepalives", Value: c.Keepalives.Load()},
		{Name: "accepted", Value: c.Accepted.Load()},
		{Name: "cached-replies", Value: c.CachedReplies.Load()},
		{Name: "dropped", Value: c.DroppedTotal()},
	}
}

func (c *Counters) dropped() []control.Counter {
	out := make([]control.Counter, 0, numDrops)
	for d := Drop(0); d < numDrops; d++ {
		out = append(out, control.Counter{Name: d.String(), Value: c.drops[d].Load()})
	}
	return out
}

func (c *Counters) other() []control.Counter {
	return []control.Counter{
		{Name: "sent", Value: c.Sent.Load()},
		{Name: "send-errors", Value: c.SendErrors.Load()},
		{Name: "retransmits", Value: c.Retransmits.Load()},
		{Name: "gave-up", Value: c.GaveUp.Load()},
		{Name: "half-open-expired", Value: c.HalfOpenExpiry.Load()},
		{Name: "work-done", Value: c.WorkDone.Load()},
		{Name: "io-done", Value: c.IODone.Load()},
		{Name: "io-refused", Value: c.IORefused.Load()},
		{Name: "engine-dropped", Value: c.EngineDropped.Load()},
		{Name: "engine-waits", Value: c.EngineWaits.Load()},
		{Name: "reloads", Value: c.Reloads.Load()},
		{Name: "reload-failures", Value: c.ReloadFailures.Load()},
		{Name: "sa-timers", Value: c.Timers.Load()},
		{Name: "keepalives-sent", Value: c.KeepalivesSent.Load()},
		{Name: "mid-history-full", Value: c.HistoryFull.Load()},
		{Name: "fragments-received", Value: c.FragmentsReceived.Load()},
		{Name: "reassembled", Value: c.Reassembled.Load()},
		{Name: "fragmented", Value: c.Fragmented.Load()},
		{Name: "fragments-sent", Value: c.FragmentsSent.Load()},
		{Name: "sa-dead-peer", Value: c.SARemoved[RemoveDeadPeer].Load()},
		{Name: "sa-expired", Value: c.SARemoved[RemoveExpired].Load()},
		{Name: "sa-stale", Value: c.SARemoved[RemoveStale].Load()},
		{Name: "sa-peer-deleted", Value: c.SARemoved[RemovePeerDeleted].Load()},
		{Name: "sa-reauthenticated", Value: c.SARemoved[RemoveReauthenticated].Load()},
		{Name: "sa-revoked", Value: c.SARemoved[RemoveRevoked].Load()},
	}
}
