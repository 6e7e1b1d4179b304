package quickmode

import (
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
)

// Manager is the IPsec SA manager: it plugs Quick Mode into the daemon and
// keeps the IPsec SAs it installed. It is the daemon.Handler of Quick Mode
// (this file), the daemon.Initiator of phase 1 then Quick Mode and the
// daemon.KernelHandler of ACQUIREs (initiate.go), of EXPIREs and rekeys
// (rekey.go), the daemon.ChildLister of `ikectl list-sas` (list.go) and a
// daemon.Watcher by which IPsec SAs follow their ISAKMP SA (watch.go);
// Informational and Deleter wrap phase 1's handlers (informational.go).
// stack.Build registers it. Its table (table.go) remembers the installed bundles of each ISAKMP SA
// (Children), so that a peer's Delete removes the right kernel SAs,
// `ikectl terminate` sends Deletes for them and `ikectl list-sas` shows
// them. All methods run on the daemon's loop.
type Manager struct {
	// Phase1 starts phase 1 for `ikectl initiate` and ACQUIREs.
	Phase1 daemon.Initiator
	// Info is phase 1's informational handler, wrapped by Informational;
	// its Life says whether an SA reauthenticates another, and Deleter
	// falls back to phase 1's (phase1.Deleter) over it.
	Info *phase1.InfoHandler
	// Traffic, when set, prepares the byte counters of a listing of n
	// ISAKMP SAs by ikectl list-sas, off the loop, and returns their
	// look-up, which the loop calls for each IPsec SA listed
	// (stack.Counters, for engines that count).
	Traffic func(n int) func(engine.SARef) (uint64, bool)
	// OnInstalled, when set, is told of every bundle installed, with its
	// ISAKMP SA, on the loop: cmd/ikeload times its Quick Modes by it.
	OnInstalled func(sa *daemon.SA, ch *Child)
	// VirtualIPs, when set, are the Mode Config addresses of the ISAKMP
	// SAs (package modecfg): a gateway's road warrior may use only its
	// lease as remote selector; a client's local selector is its address.
	VirtualIPs VirtualIPs
	// Gate, when set, holds Quick Mode back on an ISAKMP SA whose XAUTH
	// or Mode Config is not done (package transaction): the peer's Quick
	// Modes are refused and ours wait until Released.
	Gate Gate

	children map[*daemon.SA][]*Child
	// byPeer indexes every bundle kept (on an ISAKMP SA or detached) by
	// its connection and peer (table.go).
	byPeer map[peerKey][]*Child
	bySPI  map[uint32][]*Child
	// detached are bundles whose ISAKMP SA the peer deleted and that no
	// other ISAKMP SA of their connection adopted (yet): they live to
	// their lifetimes (watch.go).
	detached []*Child
	deleted  []phase1.SARef
	// initiating are our Quick Modes waiting for QM2, per ISAKMP SA, so
	// that the peer's refusal (an informational notify) ends them.
	initiating map[*daemon.SA]map[uint32]*Exchange
	// responding lists the message IDs of the peer's Quick Modes in
	// progress per ISAKMP SA: each holds SPIs and worker time, so an
	// authenticated peer cannot start unboundedly many. A short list
	// rather than a map per SA: there is one most of the time, and
	// every Quick Mode would make and drop a map (docs/performance.md).
	responding map[*daemon.SA][]uint32
	// acquiring damps the kernel's repeated ACQUIREs per connection.
	acquiring map[string]time.Time
	// rekeyAfter are bundles whose rekey waits for a new phase 1 of
	// their connection: the Quick Mode that follows it replaces them.
	rekeyAfter map[string][]*Child
	// later are responder rekeys waiting a moment for the peer's, per
	// ISAKMP SA (its timer laterKey runs them).
	later map[*daemon.SA][]deferral
	// held are kernel policies kept by connection after a dpd.action or
	// close-action hold removed their SAs (actions.go).
	held map[string][]engine.Policy
	// installing are the Quick Modes whose bundle the engine is
	// installing, per ISAKMP SA: if the SA goes meanwhile, a bundle
	// already in waits for its policies and belongs to nobody
	// (SARemoved removes it; the daemon undoes what the engine answers
	// later). A short list, as responding.
	installing map[*daemon.SA][]*Exchange
	// gated are our Quick Modes waiting for the Gate, per ISAKMP SA.
	gated map[*daemon.SA][]gatedStart
}

// Gate says whether Quick Mode must wait on an ISAKMP SA.
type Gate interface {
	Holds(sa *daemon.SA) bool
	// Refused answers a peer's Quick Mode refused because Holds holds:
	// final says the peer cannot pass as things are (it skipped what
	// it had to do), and the result (a log line, a notify) ends that
	// Quick Mode; otherwise the refusal is for now, and the peer's
	// retransmission may pass once the Gate lets go.
	Refused(c *daemon.Context) (r daemon.Result, final bool)
}

// gatedStart is a Quick Mode of ours held back by the Gate.
type gatedStart struct {
	conn string
	old  *Child
}

// Released starts the Quick Modes of ours that the Gate held back on
// c.SA, once it no longer holds them (the transaction package calls it
// when XAUTH and Mode Config are done).
func (rt *Manager) Released(c *daemon.Context) []notify.Message {
	held := rt.gated[c.SA]
	delete(rt.gated, c.SA)
	if c.Log != nil {
		c.Log.Debug("XAUTH and Mode Config done: held Quick Modes start", zap.Stringer("cookies", c.SA.Cookies), zap.Int("held", len(held)))
	}
	var logs []notify.Message
	for _, g := range held {
		logs = append(logs, rt.beginRekey(c, g.conn, g.old)...)
	}
	return logs
}

// NewManager returns a Manager over phase 1's initiator and informational
// handler (nil: informationals are not wrapped). The handler's OnDelete
// should be the Manager's PeerDeleted, so that the IPsec SAs the peer
// deletes leave the engine.
func NewManager(p1 daemon.Initiator, info *phase1.InfoHandler) *Manager {
	return &Manager{Phase1: p1, Info: info, children: map[*daemon.SA][]*Child{}, byPeer: map[peerKey][]*Child{}, bySPI: map[uint32][]*Child{}, acquiring: map[string]time.Time{},
		initiating: map[*daemon.SA]map[uint32]*Exchange{}, responding: map[*daemon.SA][]uint32{},
		rekeyAfter: map[string][]*Child{}, later: map[*daemon.SA][]deferral{}, held: map[string][]engine.Policy{},
		installing: map[*daemon.SA][]*Exchange{}, gated: map[*daemon.SA][]gatedStart{}}
}

// PeerDeleted notes the SAs a Delete of the peer names (phase 1's
// phase1.InfoHandler.OnDelete): the informational handler (Informational) then
// removes the IPsec SAs among them from the engine.
func (rt *Manager) PeerDeleted(c *daemon.Context, refs []phase1.SARef) {
	rt.deleted = append(rt.deleted, refs...)
}

// maxResponding bounds the peer's Quick Modes in progress on one ISAKMP SA
// (strongSwan starts one per CHILD_SA, a handful at once).
const maxResponding = 64

func env(c *daemon.Context) Env {
	return Env{Now: c.Now, Rand: c.Rand, Log: c.Log, Tokens: c}
}

func (rt *Manager) config(c *daemon.Context) Config {
	p := c.Policy
	cfg := Config{Policy: p, VirtualIPs: rt.VirtualIPs}
	if p != nil {
		cfg.LifetimeMin = p.Daemon.Phase2LifetimeMin
	}
	return cfg
}

func phase1Of(c *daemon.Context) (*phase1.SA, error) {
	if c.SA == nil {
		return nil, fmt.Errorf("quickmode: no ISAKMP SA")
	}
	s := phase1.StateOf(c.SA)
	if s == nil {
		return nil, fmt.Errorf("quickmode: ISAKMP SA without phase 1 state")
	}
	return s, nil
}

// Start answers QM1 (daemon.Handler for exchange type 32).
func (rt *Manager) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	p1, err := phase1Of(c)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	if rt.Gate != nil && rt.Gate.Holds(c.SA) {
		if r, final := rt.Gate.Refused(c); final {
			return nil, r
		}
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: Quick Mode before XAUTH or Mode Config is done on this ISAKMP SA")}
	}
	if len(rt.responding[c.SA]) >= maxResponding {
		return nil, daemon.Result{Reject: fmt.Errorf("quickmode: %d Quick Modes of the peer in progress on this ISAKMP SA", maxResponding)}
	}
	x, st := NewResponder(env(c), rt.config(c), p1, p.Data)
	if x == nil {
		return nil, rt.result(c, nil, st)
	}
	return &exchange{x: x, rt: rt}, rt.result(c, x, st)
}

// exchange adapts Exchange to daemon.Exchange.
type exchange struct {
	x  *Exchange
	rt *Manager
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

// result records a bundle the exchange installed, sends the
// informational it made, and keeps the table of our waiting initiators,
// before the daemon carries out st.
func (rt *Manager) result(c *daemon.Context, x *Exchange, st daemon.Result) daemon.Result {
	var installed *Child
	var info []byte
	if x != nil {
		installed, info = x.Installed(), x.TakeInfo()
	}
	if installed != nil && c.SA != nil {
		rt.addChild(c.SA, installed, c.Now)
		if o := rt.sameSelectorAs(installed); o != nil && c.Log != nil {
			c.Log.Warn("two clients behind one NAT negotiated the same transport selectors: the kernel sends the traffic of both to the newer SA",
				zap.String("conn", installed.Conn), zap.Stringer("selector", installed.Selector),
				zap.Uint16("nat-port", installed.Encap.RemotePort), zap.Uint16("other-nat-port", o.Encap.RemotePort))
		}
		if rt.OnInstalled != nil {
			rt.OnInstalled(c.SA, installed)
		}
	}
	if x != nil && x.Role == daemon.RoleResponder && c.SA != nil {
		ids := rt.responding[c.SA]
		if st.Done || x.State == StateFailed || x.State == StateEstablished {
			if i := slices.Index(ids, x.MessageID); i >= 0 {
				if ids = slices.Delete(ids, i, i+1); len(ids) == 0 {
					delete(rt.responding, c.SA)
				} else {
					rt.responding[c.SA] = ids
				}
			}
		} else if !slices.Contains(ids, x.MessageID) {
			rt.responding[c.SA] = append(ids, x.MessageID)
		}
	}
	if x != nil && x.Role == daemon.RoleInitiator && c.SA != nil {
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
	if x != nil && c.SA != nil {
		rt.trackInstalling(c.SA, x)
	}
	r := st
	if x != nil && x.Conn != nil && len(rt.held) > 0 {
		r.Engine = rt.releaseHeld(c, x.Conn.Name, r.Engine)
	}
	if info != nil {
		sendInfo(c, info)
	}
	if installed != nil && x.rekeys != nil {
		r.Engine = append(r.Engine, rt.retire(c, x.P1, x.rekeys)...)
	}
	if x != nil && x.rekeys != nil && x.State == StateFailed {
		// The old bundle stays, no longer rekeying: `ikectl rekey` may
		// try again (a soft EXPIRE comes once).
		x.rekeys.rekeying = false
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

// trackInstalling keeps the table of Quick Modes whose bundle the engine
// is installing.
func (rt *Manager) trackInstalling(sa *daemon.SA, x *Exchange) {
	list := rt.installing[sa]
	i := slices.IndexFunc(list, func(o *Exchange) bool { return o.MessageID == x.MessageID })
	if x.State == StateIInstalling || x.State == StateRInstalling {
		if i >= 0 {
			list[i] = x
		} else {
			rt.installing[sa] = append(list, x)
		}
		return
	}
	if i >= 0 && list[i] == x {
		if list = slices.Delete(list, i, i+1); len(list) == 0 {
			delete(rt.installing, sa)
		} else {
			rt.installing[sa] = list
		}
	}
}

// abandonInstalls removes the bundles that the engine installed for
// Quick Modes of a gone ISAKMP SA still waiting for their policies:
// nobody owns them. The answers still to come (a bundle, policies) are
// undone by the daemon (daemon/engine.go, undo).
func (rt *Manager) abandonInstalls(c *daemon.Context, sa *daemon.SA) []engine.Request {
	var reqs []engine.Request
	for _, x := range rt.installing[sa] {
		if x.installTok != 0 || x.bundle == nil {
			continue
		}
		refs := x.bundle.Refs()
		reqs = append(reqs, &engine.Delete{Token: c.Token(), SAs: refs})
		if c.Log != nil {
			c.Log.Warn("IPsec SA bundle installed after its negotiation ended: removed", zap.Uint32("bundle", x.bundle.ID),
				zap.Stringers("sas", refs), zap.String("reason", "the ISAKMP SA is gone"))
		}
	}
	delete(rt.installing, sa)
	return reqs
}
