package stack

import (
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
)

// byteCounter is an engine backend that counts each SA's bytes itself
// (xfrm.Backend): one SA at a time, or all of them in one dump.
type byteCounter interface {
	Bytes(engine.SARef) (uint64, bool)
	ByteCounts() (func(engine.SARef) (uint64, bool), error)
}

// dumpFrom is the number of ISAKMP SAs from which a listing takes the
// kernel's counters in one dump of all its SAs instead of one request per
// IPsec SA: `ikectl list-sas NAME` asks about a few SAs, and a dump of a
// table of 100,000 would cost more than a few requests.
const dumpFrom = 16

// Counters returns what counts the bytes of SAs for a listing of n ISAKMP
// SAs by ikectl list-sas (quickmode.Manager's Traffic) in the engine that
// *backend holds once the daemon has opened it. It is called off the
// daemon's loop, once per listing; the look-up it returns is called on it.
// The memory engine reads its records' counters; the xfrm engine asks the kernel,
// for a long listing once (xfrm.Backend.ByteCounts, one XFRM_MSG_GETSA
// dump, `ip -s xfrm state`), for a short one per SA (Bytes, `ip -s xfrm
// state get`), each on a socket it keeps for them.
func Counters(backend *engine.Backend) func(n int) func(engine.SARef) (uint64, bool) {
	return func(n int) func(engine.SARef) (uint64, bool) {
		switch b := (*backend).(type) {
		case *memory.Backend:
			return b.Bytes
		case byteCounter:
			if n >= dumpFrom {
				if counts, err := b.ByteCounts(); err == nil {
					return counts
				}
			}
			return b.Bytes
		}
		return nil
	}
}
