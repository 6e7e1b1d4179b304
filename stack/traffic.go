package stack

import (
	"github.com/vishvananda/netlink"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
)

// Traffic returns what counts the bytes of an SA for ikectl list-sas
// (quickmode.Manager's Traffic) in the engine that *backend holds once the
// daemon has opened it: the
// memory engine's records, or the kernel's counters (one XFRM_MSG_GETSA,
// `ip xfrm state get`, per SA listed).
func Traffic(backend *engine.Backend) func(engine.SARef) (uint64, bool) {
	return func(ref engine.SARef) (uint64, bool) {
		switch b := (*backend).(type) {
		case *memory.Backend:
			r, ok := b.Lookup(ref)
			return r.Bytes, ok
		case nil:
			return 0, false
		}
		if (*backend).Name() != "xfrm" || ref.Protocol == engine.ProtoIPComp {
			return 0, false
		}
		st, err := netlink.XfrmStateGet(&netlink.XfrmState{Src: ref.Src.AsSlice(), Dst: ref.Dst.AsSlice(),
			Proto: netlink.Proto(ref.Protocol), Spi: int(ref.SPI)})
		if err != nil {
			return 0, false
		}
		return st.Statistics.Bytes, true
	}
}
