package daemon

import (
	"net/netip"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Refused first messages and dropped work are never silent, and never a
// line each: the first refusal arms a timer, and when it fires one notice
// line sums up the interval (counts by reason, the sources refused most,
// the half-open table), so that a flood of 20,000 datagrams costs one line
// every refusalInterval.

// refusalInterval is how often at most the summary is logged.
const refusalInterval = 10 * time.Second

// summarized are the drop reasons the summary counts: those of admission
// and of the daemon's own queues.
var summarized = []Drop{DropHalfOpen, DropSourceShare, DropDeferred, DropRateLimit, DropPoolFull, DropLoopFull}

// maxRefusedSources bounds the per-source counts of one interval.
const maxRefusedSources = 1024

// refusals is the state of the summary. armed is shared with the readers
// (a full loop queue); the rest belongs to the loop.
type refusals struct {
	armed  atomic.Bool
	last   [numDrops]uint64 // the counters at the last summary
	bySrc  map[netip.Addr]uint64
	others uint64 // refusals of sources past maxRefusedSources
}

// refuse counts and notes a first message refused by admission, from the
// loop.
func (d *Daemon) refuse(r Drop, src netip.Addr, dg Datagram) {
	d.drop(r, dg, nil)
	d.refused.note(src, 1)
	if r != DropHalfOpen {
		d.block(src, r, d.clock.Now())
	}
	d.armRefusals()
}

// note adds n refusals of src to the interval's counts.
func (rs *refusals) note(src netip.Addr, n uint64) {
	if rs.bySrc == nil {
		rs.bySrc = map[netip.Addr]uint64{}
	}
	if _, ok := rs.bySrc[src]; ok || len(rs.bySrc) < maxRefusedSources {
		rs.bySrc[src] += n
	} else {
		rs.others += n
	}
}

// armRefusals makes sure a summary follows; any goroutine may call it.
func (d *Daemon) armRefusals() {
	if d.refused.armed.CompareAndSwap(false, true) {
		d.clock.AfterFunc(refusalInterval, func() { d.post(d.logRefusals) })
	}
}

// logRefusals writes the summary of the interval that ends, on the loop.
func (d *Daemon) logRefusals() {
	rs := &d.refused
	rs.armed.Store(false)
	d.admit.expire(d.clock.Now())
	d.foldAllHits()
	fields := []zap.Field{}
	var total uint64
	for _, r := range summarized {
		now := d.Counters.Dropped(r)
		if n := now - rs.last[r]; n > 0 {
			fields = append(fields, zap.Uint64(r.String(), n))
			total += n
		}
		rs.last[r] = now
	}
	if total == 0 {
		rs.bySrc, rs.others = nil, 0
		return
	}
	type count struct {
		src netip.Addr
		n   uint64
	}
	top := make([]count, 0, len(rs.bySrc))
	for a, n := range rs.bySrc {
		top = append(top, count{a, n})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].n != top[j].n {
			return top[i].n > top[j].n
		}
		return top[i].src.Less(top[j].src)
	})
	var srcs []string
	for i := 0; i < len(top) && i < 3; i++ {
		srcs = append(srcs, top[i].src.String()+"="+strconv.FormatUint(top[i].n, 10))
	}
	fields = append(fields, zap.Uint64("total", total), zap.Strings("top-sources", srcs),
		zap.Int("sources", len(rs.bySrc)), zap.Int("half-open", d.halfOpen),
		zap.Int("charged", d.admit.charged), zap.Bool("under-load", d.admit.underLoad(d.halfOpen, &d.settings)),
		zap.Duration("interval", refusalInterval))
	if rs.others > 0 {
		fields = append(fields, zap.Uint64("other-sources-refused", rs.others))
	}
	d.log.Notice("datagrams refused by admission or queue limits", fields...)
	rs.bySrc, rs.others = nil, 0
	// Keep summing while the refusals go on.
	d.armRefusals()
}
