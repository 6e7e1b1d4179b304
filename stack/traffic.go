package stack

import (
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
)

// byteCounter is an engine backend that counts each SA's bytes itself
// (xfrm.Backend).
type byteCounter interface {
	Bytes(engine.SARef) (uint64, bool)
}

// Traffic returns what counts the bytes of an SA for ikectl list-sas
// (quickmode.Manager's Traffic) in the engine that *backend holds once the
// daemon has opened it: the memory engine's records, or the kernel's
// counters (xfrm.Backend.Bytes: one XFRM_MSG_GETSA, `ip xfrm state get`,
// per SA listed, on a socket the xfrm engine keeps for it).
func Traffic(backend *engine.Backend) func(engine.SARef) (uint64, bool) {
	return func(ref engine.SARef) (uint64, bool) {
		switch b := (*backend).(type) {
		case *memory.Backend:
			r, ok := b.Lookup(ref)
			return r.Bytes, ok
		case byteCounter:
			return b.Bytes(ref)
		}
		return 0, false
	}
}
