package quickmode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// Runtime plugs Quick Mode into the daemon. Register it with
//
//	qm := quickmode.NewRuntime(p1rt, ih)   // phase1.Runtime, phase1.InfoHandler
//	d.Register(isakmp.ExchangeQuickMode, qm)
//	d.RegisterInitiator(qm)                    // phase 1, then Quick Mode
//	d.RegisterKernel(qm)                       // ACQUIRE, EXPIRE
//	d.Register(isakmp.ExchangeInformational, qm.Informational())
//	d.RegisterDeleter(qm.Deleter())
//	d.RegisterLister(qm)                       // ikectl list-sas
//	d.Watch(qm)                                // IPsec SAs follow their ISAKMP SA
//
// or with Register, which does all of that. It remembers the installed
// bundles of each ISAKMP SA (Children), so that a peer's Delete removes
// the right kernel SAs, `ikectl terminate` sends Deletes for them and
// `ikectl list-sas` shows them. All methods run on the daemon's loop.
type Runtime struct {
	// Phase1 starts phase 1 for `ikectl initiate` and ACQUIREs.
	Phase1 daemon.Initiator
	// Info is phase 1's informational handler, wrapped by Informational
	// and Deleter.
	Info *phase1.InfoHandler
	// Traffic, when set, returns the bytes the engine counted on an SA
	// for ikectl list-sas (cmd/iked sets it for engines that count).
	Traffic func(engine.SARef) (uint64, bool)

	children map[*daemon.SA][]*Child
	// detached are bundles whose ISAKMP SA the peer deleted and that no
	// other ISAKMP SA of their connection adopted (yet): they live to
	// their lifetimes (watch.go).
	detached []*Child
	deleted  []phase1.SARef
	// initiating are our Quick Modes waiting for QM2, per ISAKMP SA, so
	// that the peer's refusal (an informational notify) ends them.
	initiating map[*daemon.SA]map[uint32]*Exchange
	// responding counts the peer's Quick Modes in progress per ISAKMP
	// SA: each holds SPIs and worker time, so an authenticated peer
	// cannot start unboundedly many.
	responding map[*daemon.SA]map[uint32]bool
	// acquiring damps the kernel's repeated ACQUIREs per connection.
	acquiring map[string]time.Time
	// rekeyAfter are bundles whose rekey waits for a new phase 1 of
	// their connection: the Quick Mode that follows it replaces them.
	rekeyAfter map[string][]*Child
	// later are responder rekeys waiting a moment for the peer's, per
	// ISAKMP SA (its timer laterKey runs them).
	later map[*daemon.SA][]deferral
}

// Register makes a Runtime over phase 1's initiator and informational
// handler and registers it with d for everything it does (see Runtime).
func Register(d *daemon.Daemon, p1 daemon.Initiator, info *phase1.InfoHandler) *Runtime {
	qm := NewRuntime(p1, info)
	d.Register(isakmp.ExchangeQuickMode, qm)
	d.RegisterInitiator(qm)
	d.RegisterKernel(qm)
	d.Register(isakmp.ExchangeInformational, qm.Informational())
	d.RegisterDeleter(qm.Deleter())
	d.RegisterLister(qm)
	d.Watch(qm)
	return qm
}

// NewRuntime returns a Runtime over phase 1's initiator and informational
// handler (nil: informationals are not wrapped).
func NewRuntime(p1 daemon.Initiator, info *phase1.InfoHandler) *Runtime {
	rt := &Runtime{Phase1: p1, Info: info, children: map[*daemon.SA][]*Child{}, acquiring: map[string]time.Time{},
		initiating: map[*daemon.SA]map[uint32]*Exchange{}, responding: map[*daemon.SA]map[uint32]bool{},
		rekeyAfter: map[string][]*Child{}, later: map[*daemon.SA][]deferral{}}
	if info != nil {
		info.OnDelete = func(c *daemon.Context, refs []phase1.SARef) { rt.deleted = append(rt.deleted, refs...) }
	}
	return rt
}

// maxChildren bounds the bundles remembered per ISAKMP SA; the oldest is
// forgotten (its kernel SAs expire by their lifetimes).
const maxChildren = 256

// maxResponding bounds the peer's Quick Modes in progress on one ISAKMP SA
// (strongSwan starts one per CHILD_SA, a handful at once).
const maxResponding = 64

// acquireDamping is how long a connection's ACQUIRE is ignored after one
// started a negotiation (the kernel repeats them while packets wait).
const acquireDamping = 10 * time.Second

func env(c *daemon.Context) Env {
	return Env{Now: c.Now, Rand: c.Rand, Log: c.Log, Token: c.Token}
}

func config(c *daemon.Context) Config {
	p, _ := c.Policy.(*policymgr.Policy)
	cfg := Config{Policy: p}
	if p != nil {
		cfg.LifetimeMin = p.Daemon.Phase2LifetimeMin
	}
	return cfg
}

func phase1Of(c *daemon.Context) (*phase1.SA, error) {
	if c.SA == nil {
		return nil, fmt.Errorf("quickmode: no ISAKMP SA")
	}
	s, ok := c.SA.State.(*phase1.SA)
	if !ok || s == nil {
		return nil, fmt.Errorf("quickmode: ISAKMP SA without phase 1 state")
	}
	return s, nil
}

// Start answers QM1 (daemon.Handler for exchange type 32).
func (rt *Runtime) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	p1, err := phase1Of(c)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	if len(rt.responding[c.SA]) >= maxResponding {
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: %d Quick Modes of the peer in progress on this ISAKMP SA", maxResponding)}
	}
	x, st := NewResponder(env(c), config(c), p1, p.Data)
	if x == nil {
		return nil, rt.result(c, nil, st)
	}
	return &exchange{x: x, rt: rt}, rt.result(c, x, st)
}

// exchange adapts Exchange to daemon.Exchange.
type exchange struct {
	x  *Exchange
	rt *Runtime
}

func (e *exchange) Consume(c *daemon.Context, p *daemon.Packet) daemon.Result {
	return e.rt.result(c, e.x, e.x.Consume(env(c), p.Data))
}

func (e *exchange) Resume(c *daemon.Context, v any) daemon.Result {
	return e.rt.result(c, e.x, e.x.Resume(env(c), v))
}

func (e *exchange) TimedOut(c *daemon.Context) daemon.Result {
	return e.rt.result(c, e.x, e.x.TimedOut(env(c)))
}

func (e *exchange) State() string { return e.x.State.String() }

// result turns a Step into the daemon's Result, records an installed
// bundle, and keeps the table of our waiting initiators.
func (rt *Runtime) result(c *daemon.Context, x *Exchange, st Step) daemon.Result {
	if st.Child != nil && c.SA != nil {
		rt.addChild(c.SA, st.Child, c.Now)
	}
	if x != nil && x.Role == Responder && c.SA != nil {
		if st.Done || x.State == StateFailed || x.State == StateEstablished {
			if m := rt.responding[c.SA]; m != nil {
				delete(m, x.MessageID)
				if len(m) == 0 {
					delete(rt.responding, c.SA)
				}
			}
		} else {
			if rt.responding[c.SA] == nil {
				rt.responding[c.SA] = map[uint32]bool{}
			}
			rt.responding[c.SA][x.MessageID] = true
		}
	}
	if x != nil && x.Role == Initiator && c.SA != nil {
		if waiting, _ := x.Pending(0); waiting {
			if rt.initiating[c.SA] == nil {
				rt.initiating[c.SA] = map[uint32]*Exchange{}
			}
			rt.initiating[c.SA][x.MessageID] = x
		} else if m := rt.initiating[c.SA]; m != nil {
			delete(m, x.MessageID)
			if len(m) == 0 {
				delete(rt.initiating, c.SA)
			}
		}
	}
	r := daemon.Result{Reject: st.Reject, Send: st.Send, Request: st.Request, Work: st.Work,
		Engine: st.Engine, Log: st.Log, Done: st.Done}
	if st.Info != nil {
		sendInfo(c, st.Info)
	}
	if st.Child != nil && x != nil && x.rekeys != nil {
		r.Engine = append(r.Engine, rt.retire(c, x.P1, x.rekeys)...)
	}
	return r
}

// sendInfo sends a protected informational message of ours as an
// exchange of its own (its message ID), finished at once: RFC 2408, 4.8
// expects no answer.
func sendInfo(c *daemon.Context, msg []byte) {
	h, err := isakmp.ParseHeader(msg)
	if err != nil || c.SA == nil {
		return
	}
	c.Begin(isakmp.ExchangeInformational, h.MessageID, sentInfo{}, daemon.Result{Send: msg, Done: true})
}

// sentInfo is an informational exchange we started and that expects no
// answer.
type sentInfo struct{}

func (sentInfo) Consume(*daemon.Context, *daemon.Packet) daemon.Result {
	return daemon.Result{Reject: fmt.Errorf("quickmode: answer to an informational")}
}
func (sentInfo) Resume(*daemon.Context, any) daemon.Result { return daemon.Result{} }
func (sentInfo) TimedOut(*daemon.Context) daemon.Result    { return daemon.Result{} }
func (sentInfo) State() string                             { return "sent" }

// retire deletes a bundle a rekey replaced: the peer is told with a
// Delete (RFC 2408, 3.15), the engine removes it, the table forgets it.
func (rt *Runtime) retire(c *daemon.Context, p1 *phase1.SA, old *Child) []engine.Request {
	rt.drop(old)
	if mid, err := phase1.NewMessageID(c.Rand); err == nil {
		if out, err := DeleteChildren(p1, mid, []*Child{old}, false); err == nil {
			sendInfo(c, out)
		}
	}
	if c.Log != nil {
		c.Log.Info("IPsec SA rekeyed: the old bundle is deleted", zap.String("conn", old.Conn), zap.String("spis", spiText(old)),
			notify.EventField(notify.EventIPsecDown))
	}
	return deleteRequests(c, []*Child{old})
}

func (rt *Runtime) addChild(sa *daemon.SA, ch *Child, now time.Time) {
	list := rt.children[sa][:0:0]
	for _, old := range rt.children[sa] {
		if old.Expires.IsZero() || old.Expires.After(now) {
			list = append(list, old)
		}
	}
	if len(list) >= maxChildren {
		list = list[1:]
	}
	rt.children[sa] = append(list, ch)
}

// Children returns the bundles installed on an ISAKMP SA, oldest first.
func (rt *Runtime) Children(sa *daemon.SA) []*Child { return rt.children[sa] }

// Initiate starts phase 1 of the connection; Quick Mode follows once it is
// established (daemon.Initiator).
func (rt *Runtime) Initiate(c *daemon.Context, name string) (daemon.Exchange, daemon.Result, error) {
	if rt.Phase1 == nil {
		return nil, daemon.Result{}, fmt.Errorf("quickmode: no phase 1 initiator")
	}
	ex, r, err := rt.Phase1.Initiate(c, name)
	if err != nil || ex == nil {
		return ex, r, err
	}
	ch := &chained{Exchange: ex, rt: rt, conn: name}
	return ch, ch.after(c, r), nil
}

// chained is a phase 1 exchange we initiated: once it is established, the
// connection's Quick Mode begins on the new ISAKMP SA.
type chained struct {
	daemon.Exchange
	rt    *Runtime
	conn  string
	begun bool
}

func (ch *chained) Consume(c *daemon.Context, p *daemon.Packet) daemon.Result {
	return ch.after(c, ch.Exchange.Consume(c, p))
}

func (ch *chained) Resume(c *daemon.Context, v any) daemon.Result {
	return ch.after(c, ch.Exchange.Resume(c, v))
}

func (ch *chained) after(c *daemon.Context, r daemon.Result) daemon.Result {
	if r.Established && r.Reject == nil && !r.DeleteSA && !ch.begun {
		ch.begun = true
		olds := ch.rt.rekeyAfter[ch.conn]
		delete(ch.rt.rekeyAfter, ch.conn)
		// A reauthentication of an ISAKMP SA (phase1's reauth.go)
		// starts no bundle: the old SA's bundles move to this one.
		if len(olds) == 0 && (ch.rt.Info == nil || !ch.rt.Info.Reauthenticates(c)) {
			r.Log = append(r.Log, ch.rt.begin(c, ch.conn)...)
		}
		// A rekey that needed a new phase 1: each Quick Mode replaces
		// one old bundle, deleted once its successor is installed.
		for _, old := range olds {
			r.Log = append(r.Log, ch.rt.beginRekey(c, ch.conn, old)...)
		}
	}
	return r
}

// begin starts Quick Mode for conn on c.SA as initiator.
func (rt *Runtime) begin(c *daemon.Context, name string) []notify.Message {
	return rt.beginRekey(c, name, nil)
}

// beginRekey starts Quick Mode for conn on c.SA, replacing old if set.
func (rt *Runtime) beginRekey(c *daemon.Context, name string, old *Child) []notify.Message {
	p1, err := phase1Of(c)
	if err != nil {
		return nil
	}
	cfg := config(c)
	if cfg.Policy == nil {
		return nil
	}
	conn, ok := cfg.Policy.Connection(name)
	if !ok || conn.ProposalList == nil || len(conn.ProposalList.Proposals) == 0 {
		return nil
	}
	mid := c.NewMessageID()
	x, st, err := NewInitiator(env(c), cfg, p1, conn, mid)
	if err != nil {
		if c.Log != nil {
			c.Log.Warn("Quick Mode not started", zap.String("conn", name), zap.Error(err))
		}
		return st.Log
	}
	x.rekeys = old
	c.Begin(isakmp.ExchangeQuickMode, mid, &exchange{x: x, rt: rt}, rt.result(c, x, st))
	return nil
}

// Kernel handles the engine's own reports (daemon.KernelHandler): an
// ACQUIRE starts Quick Mode on the connection's established ISAKMP SA, or
// phase 1 first; a soft EXPIRE rekeys the bundle (rekey); a hard EXPIRE
// forgets it.
func (rt *Runtime) Kernel(c *daemon.Context, ev engine.Event) daemon.Result {
	p, _ := c.Policy.(*policymgr.Policy)
	switch ev.Kind {
	case engine.EventAcquire:
		if p == nil || ev.Acquire == nil {
			return daemon.Result{}
		}
		conn := connForAcquire(p, ev.Acquire)
		if conn == nil || conn.IKE == nil {
			return daemon.Result{Reject: fmt.Errorf("quickmode: ACQUIRE (reqid %d) matches no connection", ev.Acquire.ReqID)}
		}
		if t, ok := rt.acquiring[conn.Name]; ok && c.Now.Sub(t) < acquireDamping {
			return daemon.Result{}
		}
		rt.acquiring[conn.Name] = c.Now
		if sa := c.EstablishedSA(conn.Name); sa != nil {
			c.SA = sa
			return daemon.Result{Log: rt.begin(c, conn.Name)}
		}
		c.Initiate(conn.Name)
		return daemon.Result{}
	case engine.EventExpireHard:
		if ev.Expire != nil {
			if old := rt.find(ev.Expire.SA); old != nil {
				rt.drop(old)
				rt.unpend([]*Child{old})
			}
		}
	case engine.EventExpireSoft:
		if ev.Expire != nil {
			return rt.rekey(c, ev.Expire.SA)
		}
	}
	return daemon.Result{}
}

// rekey answers a soft EXPIRE (RFC 2409, 5.5 leaves rekeying to the
// lifetimes): a new Quick Mode for the bundle's connection on its
// established ISAKMP SA, which deletes the old bundle once the new one is
// installed; without an ISAKMP SA, phase 1 first, and the Quick Mode
// after it replaces the old bundle just the same. Each bundle is rekeyed
// once, whichever of its SAs expires first, by whichever side's soft
// lifetime comes first, as charon rekeys: the responder's comes a little
// later (softLimit), so the Quick Mode initiator normally rekeys, and the
// responder rekeys only when the peer has not (its bundle is not
// replaced by a newer one of the same connection and traffic).
func (rt *Runtime) rekey(c *daemon.Context, ref engine.SARef) daemon.Result {
	old := rt.find(ref)
	if old == nil || old.rekeying || old.deferred {
		return daemon.Result{}
	}
	if old.Role != Initiator {
		// Give the peer's rekey, begun at its own soft lifetime (the
		// same instant for lifetimes too short to tell the roles apart),
		// a moment to arrive first.
		if sa := establishedFor(c, old); sa != nil {
			old.deferred = true
			c.SA = sa
			rt.deferRekey(c, old, c.Now.Add(rekeyGrace(old, c.Now)))
			return daemon.Result{}
		}
	}
	return rt.rekeyNow(c, old)
}

// rekeyNow starts the Quick Mode that replaces old, on its connection's
// established ISAKMP SA or after a new phase 1.
func (rt *Runtime) rekeyNow(c *daemon.Context, old *Child) daemon.Result {
	if old.Role != Initiator && rt.replaced(old) {
		// The peer rekeyed already; its Delete retires ours, or the
		// hard lifetime does.
		return daemon.Result{}
	}
	old.rekeying = true
	if c.Log != nil {
		c.Log.Info("IPsec SA reached its soft lifetime: rekeying", zap.String("conn", old.Conn),
			zap.String("role", old.Role.String()), zap.String("spis", spiText(old)))
	}
	if sa := establishedFor(c, old); sa != nil {
		c.SA = sa
		return daemon.Result{Log: rt.beginRekey(c, old.Conn, old)}
	}
	if len(rt.rekeyAfter[old.Conn]) < maxChildren {
		rt.rekeyAfter[old.Conn] = append(rt.rekeyAfter[old.Conn], old)
	}
	c.Initiate(old.Conn)
	return daemon.Result{}
}

// laterKey names the per-SA timer of deferred responder rekeys.
const laterKey = "quickmode-rekey"

// maxGrace bounds how long a responder waits for the peer's rekey.
const maxGrace = 2 * time.Second

// rekeyGrace is how long a responder's rekey waits: half the time left
// to the hard lifetime, at most maxGrace.
func rekeyGrace(ch *Child, now time.Time) time.Duration {
	left := time.Second
	if !ch.Expires.IsZero() {
		left = ch.Expires.Sub(now)
	}
	return max(min(left/2, maxGrace), 0)
}

// deferral is a responder's rekey waiting for its due time.
type deferral struct {
	ch  *Child
	due time.Time
}

// deferRekey queues a rekey of old on c.SA and arms the SA's timer.
func (rt *Runtime) deferRekey(c *daemon.Context, old *Child, due time.Time) {
	rt.later[c.SA] = append(rt.later[c.SA], deferral{old, due})
	if t := c.TimerAt(laterKey); t.IsZero() || due.Before(t) {
		c.At(laterKey, due, rt.runLater)
	}
}

// runLater rekeys the deferred bundles that are due and still unreplaced.
func (rt *Runtime) runLater(c *daemon.Context) daemon.Result {
	sa := c.SA
	var res daemon.Result
	var rest []deferral
	var next time.Time
	for _, d := range rt.later[sa] {
		if d.due.After(c.Now) {
			rest = append(rest, d)
			if next.IsZero() || d.due.Before(next) {
				next = d.due
			}
			continue
		}
		d.ch.deferred = false
		if !rt.known(d.ch) || d.ch.rekeying {
			continue // deleted (the peer's rekey retired it) or expired
		}
		r := rt.rekeyNow(c, d.ch)
		c.SA = sa
		res.Log = append(res.Log, r.Log...)
	}
	if len(rest) == 0 {
		delete(rt.later, sa)
	} else {
		rt.later[sa] = rest
		c.At(laterKey, next, rt.runLater)
	}
	return res
}

// known reports whether the Runtime still keeps the bundle.
func (rt *Runtime) known(ch *Child) bool {
	found := false
	rt.each(func(x *Child) { found = found || x == ch })
	return found
}

// establishedFor is the newest established ISAKMP SA of the bundle's
// connection and peer, or nil: a connection that answers many peers has
// one per peer.
func establishedFor(c *daemon.Context, ch *Child) *daemon.SA {
	var to *daemon.SA
	for _, sa := range c.SAs() {
		if sa.Established && belongs(ch, sa) {
			to = sa
		}
	}
	return to
}

// replaced reports whether a newer bundle of old's connection, peer and
// traffic is installed: the peer rekeyed it.
func (rt *Runtime) replaced(old *Child) bool {
	found := false
	rt.each(func(ch *Child) {
		if ch != old && ch.Conn == old.Conn && ch.Remote == old.Remote && ch.Selector == old.Selector &&
			ch.Installed.After(old.Installed) {
			found = true
		}
	})
	return found
}

// each calls f for every bundle known, on an ISAKMP SA or detached.
func (rt *Runtime) each(f func(*Child)) {
	for _, list := range rt.children {
		for _, ch := range list {
			f(ch)
		}
	}
	for _, ch := range rt.detached {
		f(ch)
	}
}

// find returns the bundle that holds the SA the engine names, or nil:
// the SPI in its direction (our SPIs are unique only among our inbound
// SAs, the peer's among its), or the SPI alone when the engine gave no
// destination.
func (rt *Runtime) find(ref engine.SARef) *Child {
	var hit *Child
	rt.each(func(ch *Child) {
		for _, s := range ch.SAs {
			in := s.SPIIn == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Local)
			out := s.SPIOut == ref.SPI && (!ref.Dst.IsValid() || ref.Dst.Unmap() == ch.Remote)
			if engineProto(s.Protocol) == ref.Protocol && (in || out) {
				hit = ch
			}
		}
	})
	return hit
}

// drop forgets a bundle wherever it is kept.
func (rt *Runtime) drop(old *Child) {
	for sa, list := range rt.children {
		if i := slices.Index(list, old); i >= 0 {
			rt.children[sa] = slices.Delete(slices.Clip(list), i, i+1)
		}
	}
	if i := slices.Index(rt.detached, old); i >= 0 {
		rt.detached = slices.Delete(slices.Clip(rt.detached), i, i+1)
	}
}

// unpend forgets gone bundles whose rekey waited for a phase 1.
func (rt *Runtime) unpend(gone []*Child) {
	for conn, list := range rt.rekeyAfter {
		list = slices.DeleteFunc(list, func(ch *Child) bool { return slices.Contains(gone, ch) })
		if len(list) == 0 {
			delete(rt.rekeyAfter, conn)
		} else {
			rt.rekeyAfter[conn] = list
		}
	}
}

// connForAcquire finds the connection of an ACQUIRE: by reqid (the
// connection's position, as the trap policies are numbered), else by the
// packet's addresses.
func connForAcquire(p *policymgr.Policy, a *engine.Acquire) *policymgr.Connection {
	if i := int(a.ReqID) - 1; i >= 0 && i < len(p.Connections) {
		return p.Connections[i]
	}
	c, _ := p.ForTraffic(a.Selector.Local.Addr(), a.Selector.Remote.Addr(), a.Selector.Protocol,
		a.Selector.LocalPort, a.Selector.RemotePort)
	return c
}

// deleteRequests are the engine requests that remove bundles and their
// policies.
func deleteRequests(c *daemon.Context, children []*Child) []engine.Request {
	var reqs []engine.Request
	for _, ch := range children {
		reqs = append(reqs, &engine.Delete{Token: c.Token(), SAs: ch.Refs()})
		if len(ch.Policies) > 0 {
			reqs = append(reqs, &engine.RemovePolicies{Token: c.Token(), Policies: ch.Policies})
		}
	}
	return reqs
}

// Informational returns the daemon.Handler of informational exchanges: a
// message whose notifies all concern IPsec SAs (a refused or changed
// Quick Mode, CONNECTED) is message 60 and leaves the ISAKMP SA alone;
// everything else goes to phase 1's handler, and the IPsec SAs the peer
// deletes (message 62, logged by phase 1) are removed from the engine.
func (rt *Runtime) Informational() daemon.Handler { return infoHandler{rt} }

type infoHandler struct{ rt *Runtime }

func (h infoHandler) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	rt := h.rt
	if p1, err := phase1Of(c); err == nil {
		if k, ok := p1.InfoKeys(); ok {
			if inf, err := phase1.OpenInformational(p.Data, &k); err == nil && len(inf.Deletes) == 0 && phase2Only(inf) {
				var r daemon.Result
				for _, n := range inf.Notifies {
					r.Log = append(r.Log, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data),
						p.Remote.Addr().Unmap().String(), int(n.Protocol), n.SPI))
					if n.NotifyType.IsError() {
						r.Log = append(r.Log, rt.refused(c, n)...)
					}
				}
				return nil, r
			}
		}
	}
	if rt.Info == nil {
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: no informational handler")}
	}
	rt.deleted = rt.deleted[:0]
	ex, r := rt.Info.Start(c, p)
	if len(rt.deleted) > 0 && c.SA != nil {
		r.Engine = append(r.Engine, deleteRequests(c, rt.takeChildren(c.SA, rt.deleted))...)
	}
	rt.deleted = rt.deleted[:0]
	// A Delete of the ISAKMP SA itself: SARemoved decides what becomes
	// of its remaining IPsec SAs (watch.go).
	return ex, r
}

// refused ends our waiting Quick Mode that the peer's error notify is
// about: the one whose SPI it names, or the only one waiting when the SPI
// is zero or absent (strongSwan sends SPI 0 with NO-PROPOSAL-CHOSEN).
func (rt *Runtime) refused(c *daemon.Context, n *isakmp.Notification) []notify.Message {
	var spi uint32
	if len(n.SPI) == 4 {
		spi = binary.BigEndian.Uint32(n.SPI)
	}
	var match, only *Exchange
	waiting := 0
	for _, x := range rt.initiating[c.SA] {
		w, ours := x.Pending(spi)
		if !w {
			continue
		}
		waiting++
		only = x
		if ours {
			match = x
		}
	}
	if match == nil && waiting == 1 && spi == 0 {
		match = only
	}
	if match == nil {
		return nil
	}
	delete(rt.initiating[c.SA], match.MessageID)
	return match.PeerRefused(env(c), n.NotifyType).Log
}

// phase2Only reports an informational whose notifies all name an IPsec
// protocol (RFC 2407, 4.6.3: Quick Mode's notifies carry the SA's
// protocol and SPI).
func phase2Only(inf *phase1.Informational) bool {
	if len(inf.Notifies) == 0 {
		return false
	}
	for _, n := range inf.Notifies {
		if n.Protocol == isakmp.ProtoISAKMP || n.Protocol == 0 {
			return false
		}
	}
	return true
}

// takeChildren removes and returns the bundles of sa (and the detached
// ones of its peer) that the peer's deletes name: the SPIs in a Delete
// are the peer's inbound ones, our outbound (RFC 2408, 3.15).
func (rt *Runtime) takeChildren(sa *daemon.SA, refs []phase1.SARef) []*Child {
	named := func(ch *Child) bool {
		for _, ref := range refs {
			if len(ref.SPI) != 4 && len(ref.SPI) != 2 {
				continue
			}
			for _, s := range ch.SAs {
				if s.Protocol == ref.Protocol && bytes.Equal(spiBytes(s.Protocol, s.SPIOut), ref.SPI) {
					return true
				}
			}
		}
		return false
	}
	var out []*Child
	for _, ch := range rt.children[sa] {
		if named(ch) {
			out = append(out, ch)
		}
	}
	for _, ch := range rt.detached {
		if belongs(ch, sa) && named(ch) {
			out = append(out, ch)
		}
	}
	for _, ch := range out {
		rt.drop(ch)
	}
	rt.unpend(out)
	return out
}

// Deleter returns the daemon.Deleter for `ikectl terminate` and shutdown:
// with IPsec SAs on the ISAKMP SA (or detached ones of its connection and
// peer), one protected informational deletes them and then the ISAKMP SA
// (as strongSwan does), and the engine removes them; without, phase 1's
// Deleter says goodbye.
func (rt *Runtime) Deleter() daemon.Deleter { return deleter{rt} }

type deleter struct{ rt *Runtime }

func (d deleter) Delete(c *daemon.Context) daemon.Result {
	rt := d.rt
	children := rt.children[c.SA]
	// Bundles of the same connection and peer that outlived an earlier
	// ISAKMP SA go too: terminate means the whole connection.
	if c.SA != nil && len(rt.detached) > 0 {
		keep := rt.detached[:0:0]
		for _, ch := range rt.detached {
			if belongs(ch, c.SA) {
				children = append(children, ch)
			} else {
				keep = append(keep, ch)
			}
		}
		rt.detached = keep
	}
	rt.unpend(children)
	delete(rt.children, c.SA)
	delete(rt.initiating, c.SA)
	delete(rt.responding, c.SA)
	p1, err := phase1Of(c)
	if len(children) == 0 || err != nil {
		if rt.Info != nil {
			return rt.Info.Delete(c)
		}
		return daemon.Result{}
	}
	if rt.Info != nil {
		rt.Info.Forget(c.SA)
	}
	r := daemon.Result{Engine: deleteRequests(c, children)}
	mid, err := phase1.NewMessageID(c.Rand)
	if err != nil {
		return r
	}
	out, err := DeleteChildren(p1, mid, children, true)
	if err != nil {
		return r
	}
	r.Send = out
	r.Log = append(r.Log, phase1.SendingLog(p1.Remote, "DELETE"))
	return r
}
