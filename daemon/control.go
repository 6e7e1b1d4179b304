package daemon

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/control"
)

// Control answers a control request as the control socket would: for
// in-process tests (which run without a socket, in virtual time) and
// embedders.
func (d *Daemon) Control(req control.Request) control.Response {
	if err := req.Validate(); err != nil {
		return control.Response{Error: err.Error()}
	}
	return d.handleControl(req)
}

// handleControl answers one control request. It runs on the control
// server's goroutine and reads the tables through the loop. The log is
// written out before the answer (iked buffers it, cmd/iked/main.go):
// whoever reads the log after an answer finds every line the daemon wrote
// before it, as with an unbuffered log.
func (d *Daemon) handleControl(req control.Request) control.Response {
	defer func() { _ = d.log.Sync() }()
	var resp control.Response
	switch req.Command {
	case control.CmdReload:
		msgs, ok := d.Reload()
		for _, m := range msgs {
			resp.Messages = append(resp.Messages, m.Text)
		}
		if !ok {
			resp.Error = "policy not reloaded; the running policy stays"
		}
		return resp
	case control.CmdStats:
		resp.Stats = d.stats()
		return resp
	case control.CmdListSAs:
		return control.SALister(d.listSAs).Collect(req)
	case control.CmdListLeases:
		// The lease store is safe for concurrent use: not on the loop.
		if d.leases == nil {
			resp.Messages = append(resp.Messages, "no Mode Config lease store")
			return resp
		}
		ls, err := d.leases.ListLeases()
		if err != nil {
			resp.Error = err.Error()
		}
		resp.Leases = ls
		return resp
	}
	ok := d.call(func() {
		switch req.Command {
		case control.CmdStatus:
			resp.Status = d.status()
		case control.CmdListConns:
			resp.Conns = d.listConns()
		case control.CmdListCerts:
			resp.Certs = d.listCerts()
		case control.CmdInitiate:
			if err := d.initiate(req.Name); err != nil {
				resp.Error = err.Error()
			}
		case control.CmdTerminate:
			n := d.terminate(req.Name)
			if n == 0 {
				resp.Error = fmt.Sprintf("no ISAKMP SA of connection or SA %q", req.Name)
			} else {
				resp.Messages = append(resp.Messages, fmt.Sprintf("%d ISAKMP SA(s) deleted", n))
			}
		case control.CmdReauth:
			started, refused := d.reauth(req.Name)
			switch {
			case started == 0 && len(refused) == 0:
				resp.Error = fmt.Sprintf("no established ISAKMP SA of connection or SA %q", req.Name)
			case started == 0:
				resp.Error = "no ISAKMP SA reauthenticated: " + strings.Join(refused, "; ")
			default:
				resp.Messages = append(resp.Messages, fmt.Sprintf("%d ISAKMP SA(s) reauthenticating", started))
				resp.Messages = append(resp.Messages, refused...)
			}
		case control.CmdRekey:
			sas, n := d.rekey(req.Name)
			switch {
			case sas == 0:
				resp.Error = fmt.Sprintf("no established ISAKMP SA of connection or SA %q", req.Name)
			case n == 0:
				resp.Error = fmt.Sprintf("no IPsec SA of connection or SA %q to rekey (none installed, or rekeying already)", req.Name)
			default:
				resp.Messages = append(resp.Messages, fmt.Sprintf("%d IPsec SA bundle(s) of %d ISAKMP SA(s) rekeying", n, sas))
			}
		}
	})
	if !ok {
		resp.Error = errStopping.Error()
	}
	return resp
}

func (d *Daemon) status() *control.Status {
	now := d.clock.Now()
	s := &control.Status{
		Version:     d.opt.Version,
		PID:         os.Getpid(),
		Started:     d.started,
		Uptime:      now.Sub(d.started),
		PolicyFile:  d.opt.ConfigFile,
		PolicyLoad:  d.loadedAt,
		Engine:      d.settings.Engine,
		Listening:   d.listening(),
		ISAKMPSAs:   len(d.sas),
		HalfOpen:    d.halfOpen,
		Established: d.nEstablished,
		Counters:    d.Counters.received(),
	}
	if d.policy != nil {
		s.Conns = len(d.policy.Conns)
	}
	return s
}

func (d *Daemon) stats() *control.Stats {
	st := &control.Stats{
		Received: d.Counters.received(),
		Dropped:  d.Counters.dropped(),
		Other:    d.Counters.other(),
	}
	if d.eng != nil {
		q := d.eng.Stats()
		st.Engine = []control.Counter{
			{Name: "accepted", Value: q.Accepted},
			{Name: "dropped-ordinary", Value: q.DroppedOrdinary},
			{Name: "displaced", Value: q.Displaced},
			{Name: "dropped-important", Value: q.DroppedImportant},
			{Name: "waiting", Value: uint64(q.Len)},
			{Name: "high-water", Value: uint64(q.HighWater)},
		}
	}
	return st
}

func (d *Daemon) allSAs() []*SA {
	out := make([]*SA, 0, len(d.sas)+len(d.byInit))
	d.eachSA(func(sa *SA) { out = append(out, sa) })
	slices.SortFunc(out, func(a, b *SA) int { return a.Created.Compare(b.Created) })
	return out
}

// eachSA calls f for every SA of the tables, once, in no order.
func (d *Daemon) eachSA(f func(*SA)) {
	for _, sa := range d.sas {
		f(sa)
	}
	for _, sa := range d.byInit {
		if d.sas[sa.Cookies] != sa {
			f(sa)
		}
	}
}

// listBatch is how many ISAKMP SAs list-sas describes in one turn of the
// loop (each with its bundles, some microseconds), so that IKE traffic
// waits milliseconds, not seconds, while 100,000 are listed
// (docs/performance.md, "ikectl list-sas at scale").
const listBatch = 256

// errStopping answers a request that the loop, stopping, no longer takes.
var errStopping = errors.New("daemon is stopping")

// listSAs answers list-sas (control.SALister): it takes the SAs in one
// turn of the loop (those req.Name names, when set, as terminate names
// them), sorts them by creation and begins the listing of their bundles
// (ChildLister.BeginList) off it, then describes them a batch a turn,
// leaving out those gone meanwhile, and hands each batch to yield off the
// loop (the control server encodes it while the loop works).
func (d *Daemon) listSAs(req control.Request, yield func([]control.SA) bool) ([]control.ChildSA, error) {
	defer func() { _ = d.log.Sync() }()
	type listed struct {
		sa      *SA
		created time.Time
	}
	var all []listed
	if !d.call(func() {
		all = make([]listed, 0, len(d.sas)+len(d.byInit))
		d.eachSA(func(sa *SA) {
			if req.Name == "" || sa.named(req.Name) {
				all = append(all, listed{sa, sa.Created})
			}
		})
	}) {
		return nil, errStopping
	}
	// Sorted off the loop, by the creation times copied on it.
	slices.SortFunc(all, func(a, b listed) int { return a.created.Compare(b.created) })
	children := d.beginList(len(all))
	for len(all) > 0 {
		batch := all[:min(listBatch, len(all))]
		all = all[len(batch):]
		out := make([]control.SA, 0, len(batch))
		if !d.call(func() {
			now := d.clock.Now()
			for _, l := range batch {
				if d.alive(l.sa) {
					out = append(out, d.listSA(l.sa, now, children))
				}
			}
		}) {
			return nil, errStopping
		}
		if len(out) > 0 && !yield(out) {
			return nil, nil
		}
	}
	var detached []control.ChildSA
	if !d.call(func() { detached = children(nil, d.clock.Now()) }) {
		return nil, errStopping
	}
	if req.Name != "" {
		detached = slices.DeleteFunc(detached, func(c control.ChildSA) bool { return c.Conn != req.Name })
	}
	return detached, nil
}

// listSA describes one ISAKMP SA for list-sas; on the loop.
func (d *Daemon) listSA(sa *SA, now time.Time, children func(*SA, time.Time) []control.ChildSA) control.SA {
	c := control.SA{
		ICookie:     hex.EncodeToString(sa.Cookies.I[:]),
		RCookie:     hex.EncodeToString(sa.Cookies.R[:]),
		Conn:        sa.Conn,
		Role:        sa.Role.String(),
		Local:       sa.Local.String(),
		Remote:      sa.Remote.String(),
		Established: sa.Established,
		Age:         now.Sub(sa.Created),
		State:       "half-open",
	}
	if sa.Established {
		c.State = "established"
	}
	ids := make([]uint32, 0, len(sa.exchanges))
	for id := range sa.exchanges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := sa.exchanges[id]
		c.Exchanges = append(c.Exchanges, control.Exchange{
			MessageID: id, Type: r.typ.String(), State: r.state(),
			Retransmits: r.tries, AwaitingReply: r.request,
		})
	}
	c.Children = children(sa, now)
	return c
}

// ChildLister lists IPsec SAs for ikectl list-sas: quickmode/ registers
// the table of bundles it installed, so that the operator sees each ISAKMP
// SA with its IPsec SAs (as `swanctl --list-sas` shows an IKE_SA with its
// CHILD_SAs). It is called on the loop and must not block.
type ChildLister interface {
	// BeginList prepares a listing of n ISAKMP SAs off the loop (what
	// the descriptions need from outside the loop, such as the kernel's
	// byte counters, is taken here once, so that the loop does not wait
	// for it SA by SA) and returns what, on the loop, lists the bundles
	// of one of them while the listing lasts: oldest first; with sa nil,
	// those whose ISAKMP SA is gone.
	BeginList(n int) func(sa *SA, now time.Time) []control.ChildSA
	// CountChildren calls f with the connection and state of each bundle
	// a listing would list, without describing it: what a metrics scrape
	// counts on the loop.
	CountChildren(sa *SA, f func(conn, state string))
}

// LeaseLister lists the Mode Config leases for `ikectl list-leases`
// (modecfg.Store); it is called off the loop.
type LeaseLister interface {
	ListLeases() ([]control.Lease, error)
}

// RegisterLeases installs the LeaseLister. Call it before Start.
func (d *Daemon) RegisterLeases(l LeaseLister) { registerOnce(&d.leases, l, "lease lister") }

// RegisterLister installs the ChildLister. Call it before Start.
func (d *Daemon) RegisterLister(l ChildLister) { registerOnce(&d.lister, l, "lister") }

// beginList begins a listing of n ISAKMP SAs' bundles; off the loop.
func (d *Daemon) beginList(n int) func(*SA, time.Time) []control.ChildSA {
	if d.lister == nil {
		return func(*SA, time.Time) []control.ChildSA { return nil }
	}
	return d.lister.BeginList(n)
}

func (d *Daemon) listConns() []control.Conn {
	if d.policy == nil {
		return nil
	}
	count := map[string]int{}
	d.eachSA(func(sa *SA) { count[sa.Conn]++ })
	out := slices.Clone(d.policy.Conns)
	for i := range out {
		out[i].SAs = count[out[i].Name]
	}
	return out
}

// initiate starts phase 1 of a connection through the registered Initiator.
func (d *Daemon) initiate(conn string) error {
	if !d.hasConn(conn) {
		return fmt.Errorf("no connection %q in the running policy", conn)
	}
	if d.initiator == nil {
		return fmt.Errorf("this iked has no phase 1 initiator registered")
	}
	var icookie [8]byte
	for icookie == ([8]byte{}) || d.byInit[icookie] != nil {
		if _, err := io.ReadFull(d.rand, icookie[:]); err != nil {
			return fmt.Errorf("random source: %w", err)
		}
	}
	sa := &SA{
		Cookies: Cookies{I: icookie},
		Role:    RoleInitiator,
		Conn:    conn,
		Created: d.clock.Now(),
	}
	run := &running{id: 0}
	var initErr error
	res := d.safeCall(sa, run, func(c *Context) Result {
		var r Result
		run.ex, r, initErr = d.initiator.Initiate(c, conn)
		return r
	})
	if initErr != nil || res.Reject != nil {
		// The initiator's messages say why (message 55 for a peer that is
		// not an address); the caller passes the error on to ikectl.
		for _, m := range res.Log {
			d.log.Emit(m, zap.String("conn", conn))
		}
		if initErr != nil {
			return initErr
		}
		return res.Reject
	}
	if run.ex == nil || !sa.Remote.IsValid() {
		return fmt.Errorf("initiator for %q returned no exchange or no peer address", conn)
	}
	run.typ = exchangeOf(res.Send)
	d.byInit[icookie] = sa
	d.sas[sa.Cookies] = sa
	sa.addExchange(run)
	d.countInitiation(sa, d.peerOf(conn))
	d.carryOut(sa, run, res, false)
	return nil
}

// terminate removes the SAs of a connection, or the SA named by its
// initiator cookie (hex, as list-sas prints it), and their kernel SAs are
// left to the engine's lifetimes. It returns how many it removed.
func (d *Daemon) terminate(name string) int {
	n := 0
	for _, sa := range d.allSAs() {
		if sa.named(name) {
			d.deleteSA(sa, RemoveTerminated)
			n++
		}
	}
	return n
}

// rekey starts the rekeying of the IPsec SAs of a connection's
// established ISAKMP SAs, or of the one its cookie names (Rekeyer). It
// returns how many ISAKMP SAs it asked and how many bundles they began
// rekeying.
func (d *Daemon) rekey(name string) (sas, bundles int) {
	if d.rekeyer == nil {
		return 0, 0
	}
	for _, sa := range d.allSAs() {
		if !sa.Established || !sa.named(name) || !d.alive(sa) {
			continue
		}
		sas++
		var n int
		res := d.safeCall(sa, nil, func(c *Context) Result {
			var r Result
			n, r = d.rekeyer.Rekey(c)
			return r
		})
		if res.Reject != nil {
			d.log.Warn("IPsec SAs not rekeyed", zap.Stringer("cookies", sa.Cookies), zap.Error(res.Reject))
		}
		bundles += n
		for _, m := range res.Log {
			d.log.Emit(m, zap.Stringer("cookies", sa.Cookies))
		}
		for _, r := range res.Engine {
			d.submit(r)
		}
		d.flushBegun()
	}
	return sas, bundles
}

// reauth starts the reauthentication of a connection's established
// ISAKMP SAs, or of the one its cookie names (Reauthenticator). It returns
// how many began, and why each of the others did not.
func (d *Daemon) reauth(name string) (started int, refused []string) {
	if d.reauther == nil {
		return 0, nil
	}
	for _, sa := range d.allSAs() {
		if !sa.Established || !sa.named(name) || !d.alive(sa) {
			continue
		}
		var err error
		res := d.safeCall(sa, nil, func(c *Context) Result {
			err = d.reauther.Reauth(c)
			return Result{}
		})
		if res.Reject != nil {
			err = res.Reject
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", sa.Cookies, err))
			continue
		}
		started++
		d.flushBegun()
	}
	return started, refused
}

// named reports whether name is the SA's connection, its initiator cookie
// (hex, as list-sas prints it) or both its cookies.
func (sa *SA) named(name string) bool {
	return sa.Conn == name || hex.EncodeToString(sa.Cookies.I[:]) == name || sa.Cookies.String() == name
}

// deleteSA asks the Deleter to tell the peer about an established SA, sends
// what it returns, and forgets the SA.
func (d *Daemon) deleteSA(sa *SA, why RemoveReason) {
	if sa.Established && d.deleter != nil {
		res := d.safeCall(sa, nil, func(c *Context) Result { return d.deleter.Delete(c) })
		if res.Reject == nil {
			d.aside(sa, res)
		}
	}
	if d.alive(sa) {
		d.removeSA(sa, why)
	}
}
