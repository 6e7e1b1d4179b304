package main

import (
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/quickmode"
)

// collector follows every initiating daemon's SAs: it is each daemon's
// Watcher (phase 1 established or gone), the IPsec manager's OnInstalled
// (Quick Mode done) and the reader of the daemons' log events (why a
// negotiation failed: the catalog's messages 46, 51 and 57). It runs on
// several daemons' loops at once, hence the lock.
type collector struct {
	qm bool
	// done is called once for every SA that finished, either way, and
	// deleted for each that succeeded, when SAs are to be deleted.
	done    func()
	deleted func(d *daemon.Daemon, icookie string)

	mu      sync.Mutex
	waiting map[[8]byte]time.Time // phase 1 up, Quick Mode not yet: since
	failed  map[[8]byte]string    // why each failed, as the daemon says
	detail  map[[8]byte]string    // why, as the log's messages say
	lat, p1 []time.Duration
	ok, bad int
	last    time.Time // last SA finished
}

func newCollector(qm bool) *collector {
	return &collector{qm: qm, waiting: map[[8]byte]time.Time{}, failed: map[[8]byte]string{},
		detail: map[[8]byte]string{}}
}

// watcher is the collector as one daemon's Watcher.
type watcher struct {
	c *collector
	d *daemon.Daemon
}

func (w watcher) SAEstablished(ctx *daemon.Context) daemon.Result {
	sa := ctx.SA
	if sa.Role != daemon.RoleInitiator {
		return daemon.Result{}
	}
	c := w.c
	lat := ctx.Now.Sub(sa.Created)
	c.mu.Lock()
	c.p1 = append(c.p1, lat)
	if c.qm {
		c.waiting[sa.Cookies.I] = sa.Created
		c.mu.Unlock()
		return daemon.Result{}
	}
	c.succeed(lat, ctx.Now)
	c.mu.Unlock()
	c.finished(w.d, sa.Cookies.I, true)
	return daemon.Result{}
}

func (w watcher) SARemoved(ctx *daemon.Context, why daemon.RemoveReason) daemon.Result {
	sa := ctx.SA
	if sa.Role != daemon.RoleInitiator {
		return daemon.Result{}
	}
	c := w.c
	c.mu.Lock()
	_, waiting := c.waiting[sa.Cookies.I]
	fail := waiting || !sa.Established
	if fail {
		delete(c.waiting, sa.Cookies.I)
		reason := why.String()
		if waiting {
			reason = "ISAKMP SA gone before Quick Mode: " + reason
		}
		c.fail(sa.Cookies.I, reason, ctx.Now)
	}
	c.mu.Unlock()
	if fail {
		c.finished(w.d, sa.Cookies.I, false)
	}
	return daemon.Result{}
}

// installed is the IPsec manager's OnInstalled of daemon d.
func (c *collector) installed(d *daemon.Daemon) func(*daemon.SA, *quickmode.Child) {
	return func(sa *daemon.SA, _ *quickmode.Child) {
		now := time.Now()
		c.mu.Lock()
		since, ok := c.waiting[sa.Cookies.I]
		if ok {
			delete(c.waiting, sa.Cookies.I)
			c.succeed(now.Sub(since), now)
		}
		c.mu.Unlock()
		if ok {
			c.finished(d, sa.Cookies.I, true)
		}
	}
}

// succeed and fail count an SA; c.mu is held.
func (c *collector) succeed(lat time.Duration, now time.Time) {
	c.ok++
	c.lat = append(c.lat, lat)
	c.last = now
}

func (c *collector) fail(icookie [8]byte, reason string, now time.Time) {
	c.bad++
	c.failed[icookie] = reason
	c.last = now
}

func (c *collector) finished(d *daemon.Daemon, icookie [8]byte, ok bool) {
	if ok && c.deleted != nil {
		c.deleted(d, hex.EncodeToString(icookie[:]))
	}
	if c.done != nil {
		c.done()
	}
}

// initiateFailed counts an SA that could not even begin.
func (c *collector) initiateFailed(reason string) {
	c.mu.Lock()
	c.bad++
	var k [8]byte
	// A key of its own per failure: the counter, big-endian.
	n := len(c.failed) + 1
	for i := 7; i >= 0 && n > 0; i-- {
		k[i] = byte(n)
		n >>= 8
	}
	k[0] = 0xff // no daemon picks cookies here for it: they are never reported
	c.failed[k] = "cannot initiate: " + reason
	c.mu.Unlock()
	if c.done != nil {
		c.done()
	}
}

// follow reads the log events of the daemons until stop is closed and
// the channel is empty, noting why each SA failed; a Quick Mode that
// failed (message 57) fails its SA.
func (c *collector) follow(sub *notify.Subscription, stop <-chan struct{}) {
	for {
		select {
		case e := <-sub.C:
			c.note(e)
		case <-stop:
			for {
				select {
				case e := <-sub.C:
					c.note(e)
				default:
					return
				}
			}
		}
	}
}

func (c *collector) note(e notify.Entry) {
	if e.Catalog != 46 && e.Catalog != 51 && e.Catalog != 57 {
		return
	}
	s, _ := e.Fields["cookies"].(string)
	ic, _, _ := strings.Cut(s, ":")
	b, err := hex.DecodeString(ic)
	if err != nil || len(b) != 8 {
		return
	}
	k := [8]byte(b)
	reason := reasonOf(e)
	c.mu.Lock()
	if old := c.detail[k]; !strings.HasPrefix(old, "notify ") {
		c.detail[k] = reason
	}
	_, qmFailed := c.waiting[k]
	qmFailed = qmFailed && e.Catalog == 57
	if qmFailed {
		delete(c.waiting, k)
		c.fail(k, "quick mode failed", e.Time)
	}
	c.mu.Unlock()
	if qmFailed {
		c.finished(nil, k, false)
	}
}

// reasonOf reads the reason out of messages 46 (after "failed; "), 51
// (the notify type) and 57 (after "failed: "), as docs/messages.md
// words them.
func reasonOf(e notify.Entry) string {
	t := e.Text
	switch e.Catalog {
	case 51:
		_, r, _ := strings.Cut(t, " : ")
		r, _, _ = strings.Cut(r, ". Deleting")
		return "notify " + r
	case 46:
		_, r, _ := strings.Cut(t, "failed; ")
		if strings.Contains(r, "no response") {
			return "timeout (phase 1)"
		}
		return "phase 1: " + r
	case 57:
		_, r, _ := strings.Cut(t, "failed: ")
		if strings.Contains(r, "no response") {
			return "timeout (quick mode)"
		}
		return "quick mode: " + r
	}
	return t
}

// reasons tallies the failures by reason: the log's word where it gave
// one, else the daemon's.
func (c *collector) reasons() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, why := range c.failed {
		if d := c.detail[k]; d != "" {
			why = d
		}
		out[why]++
	}
	return out
}
