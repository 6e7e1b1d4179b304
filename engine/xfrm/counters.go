package xfrm

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

// openCounters opens Bytes's netlink socket in the backend's namespace.
func (b *Backend) openCounters() error {
	h, err := netlink.NewHandleAt(b.opts.Namespace, unix.NETLINK_XFRM)
	if err != nil {
		return fmt.Errorf("xfrm netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(b.opts.Timeout); err != nil {
		h.Close()
		return err
	}
	b.countMu.Lock()
	b.counters = h
	b.countMu.Unlock()
	return nil
}

func (b *Backend) closeCounters() {
	b.countMu.Lock()
	defer b.countMu.Unlock()
	if b.counters != nil {
		b.counters.Close()
		b.counters = nil
	}
}

// Bytes is the kernel's byte counter of the SA ref names (one
// XFRM_MSG_GETSA, what `ip -s xfrm state get` shows), for ikectl
// list-sas. Any goroutine may call it: it asks on a socket of its own,
// opened by Open, so that a listing neither waits for the engine's
// requests nor delays them, and no socket is made per question. It
// reports false for an SA the kernel does not have, for IPComp (whose
// counters are not the traffic's) and once the backend is closed.
func (b *Backend) Bytes(ref engine.SARef) (uint64, bool) {
	if ref.Protocol == engine.ProtoIPComp {
		return 0, false
	}
	b.countMu.Lock()
	defer b.countMu.Unlock()
	if b.counters == nil {
		return 0, false
	}
	st, err := b.counters.XfrmStateGet(&netlink.XfrmState{Src: ref.Src.AsSlice(), Dst: ref.Dst.AsSlice(),
		Proto: netlink.Proto(ref.Protocol), Spi: int(ref.SPI)})
	if err != nil {
		return 0, false
	}
	return st.Statistics.Bytes, true
}
