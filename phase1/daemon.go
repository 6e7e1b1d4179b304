package phase1

import (
	"fmt"
	"net/netip"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/notify"
)

// Runtime plugs phase 1 into the daemon: it is the daemon.Handler of Main
// and Aggressive Mode first messages and the daemon.Initiator of
// `ikectl initiate` (stack.Build registers it; quickmode wraps it as the
// initiator that runs Quick Mode after phase 1). The daemon's loop then
// calls the returned daemon.Exchange; Work closures go to its worker pool
// and come back through Resume; retransmitted requests are answered from
// its reply cache. The *SA is attached to the daemon's SA (StateOf reads
// it) for Quick Mode and the informational exchanges; Life
// (life.go), a daemon.Watcher, runs the SA's life
// after phase 1 (DPD, NAT keepalives,
// lifetime, INITIAL-CONTACT). As initiator the exchange adds
// INITIAL-CONTACT to MM5/AM3 on a first contact, looking through the
// daemon's tables (HasContact).
//
// A Runtime whose Hooks are all nil uses NewHooks with the daemon's NAT-T
// port and the policy's DPD setting: Vendor IDs (DPD, NAT-T) and NAT-D.
type Runtime struct {
	Hooks    Hooks
	SendCert bool
	// NoInitialContact keeps INITIAL-CONTACT out of every MM5/AM3 we
	// send: cmd/ikeload opens many ISAKMP SAs with one peer at once, and
	// each would otherwise tell the peer to drop the others.
	NoInitialContact bool
}

func (rt *Runtime) config(c *daemon.Context) Config {
	p := c.Policy
	h := rt.Hooks
	if h.VendorIDs == nil && h.PeerVendorIDs == nil && h.NATD == nil && h.PeerNATD == nil {
		h = NewHooks(NATTConfig{Port: c.Settings().NATTPort, DPD: p != nil && p.Daemon.DPD.Delay > 0})
	}
	return Config{Policy: p, Hooks: h, SendCert: rt.SendCert}
}

func env(c *daemon.Context) Env { return Env{Now: c.Now, Rand: c.Rand, Log: c.Log} }

// Start answers the first message of a Main or Aggressive Mode exchange.
func (rt *Runtime) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	x, st := NewResponder(env(c), rt.config(c), c.SA.Cookies.I, c.SA.Cookies.R, p.Local, p.Remote, p.Data)
	if x == nil {
		if st.Reject == nil && st.Send == nil && len(st.Log) == 0 {
			st.Reject = fmt.Errorf("phase1: first message refused")
		}
		return nil, result(c, nil, st)
	}
	attach(c.SA, x.SA)
	return &exchange{x: x}, result(c, x, st)
}

// Initiate starts phase 1 of the named connection as initiator.
func (rt *Runtime) Initiate(c *daemon.Context, name string) (daemon.Exchange, daemon.Result, error) {
	cfg := rt.config(c)
	if cfg.Policy == nil {
		return nil, daemon.Result{}, notify.NoPolicyLoaded()
	}
	conn, ok := cfg.Policy.Connection(name)
	if !ok || conn.IKE == nil {
		return nil, daemon.Result{}, fmt.Errorf("phase1: no IKE connection %q", name)
	}
	remote := peerAddr(conn)
	if !remote.IsValid() {
		return nil, daemon.Result{Log: []notify.Message{notify.RemoteIDNotAddress()}}, notify.RemoteIDNotAddress()
	}
	port := c.Settings().IKEPort
	local := localAddr(conn)
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
		if remote.Is6() {
			local = netip.IPv6Unspecified()
		}
	}
	c.SA.Remote = netip.AddrPortFrom(remote, port)
	c.SA.Local = netip.AddrPortFrom(local, port)
	x, st, err := NewInitiator(env(c), cfg, conn, c.SA.Cookies.I, c.SA.Local, c.SA.Remote)
	if err != nil {
		return nil, daemon.Result{}, err
	}
	attach(c.SA, x.SA)
	return &exchange{x: x, noContact: rt.NoInitialContact}, result(c, x, st), nil
}

// exchange adapts Exchange to daemon.Exchange.
type exchange struct {
	x         *Exchange
	noContact bool // Runtime.NoInitialContact
	// c is the Context of the call under way (bind), nil between calls.
	c *daemon.Context
}

// Consume hands a message to the exchange. A message that came to the
// NAT-T port from elsewhere moves the SA there once it verified
// (Exchange.ConsumeFrom): the responder follows an initiator that floated
// to 4500 (RFC 3947, 4), so that its answer goes where the NAT expects
// it, and AM3's NAT-D, which hashes the port 4500 addresses, is checked
// against them.
func (e *exchange) Consume(c *daemon.Context, p *daemon.Packet) daemon.Result {
	e.bind(c)
	defer e.unbind()
	if e.x.SA.Local.Addr().IsUnspecified() && p.Local.IsValid() {
		e.x.SA.Local = p.Local
	}
	var port uint16
	if p.NATT {
		port = c.Settings().NATTPort
	}
	return result(c, e.x, e.x.ConsumeFrom(env(c), p.Data, p.Local, p.Remote, port))
}

func (e *exchange) Resume(c *daemon.Context, v any) daemon.Result {
	e.bind(c)
	defer e.unbind()
	return result(c, e.x, e.x.Resume(env(c), v))
}

func (e *exchange) TimedOut(c *daemon.Context) daemon.Result {
	e.bind(c)
	defer e.unbind()
	return result(c, e.x, e.x.TimedOut(env(c)))
}

// bind points the exchange's look-ups at the daemon's tables for the
// duration of one call (a Context is valid only during its call); unbind
// ends that. The look-up is a method value made once per exchange, not a
// closure over each call's Context.
func (e *exchange) bind(c *daemon.Context) {
	e.c = c
	if e.x.contact == nil {
		e.x.contact = e.hasContact
	}
}

func (e *exchange) unbind() { e.c = nil }

// hasContact is Exchange.contact: always true with NoInitialContact (no
// INITIAL-CONTACT is sent), false outside a call.
func (e *exchange) hasContact(s *SA) bool {
	if e.noContact {
		return true
	}
	return e.c != nil && hasContact(e.c, s)
}

// hasContact is HasContact over the daemon's established SAs of s's
// connection (Context.EachEstablished, an index): an initiator starting
// many SAs of one connection does not scan every SA for each.
func hasContact(c *daemon.Context, s *SA) bool {
	if s.Conn == nil {
		return false
	}
	found := false
	c.EachEstablished(s.Conn.Name, func(dsa *daemon.SA) bool {
		if o := StateOf(dsa); dsa != c.SA && o != nil && contactWith(s, o) {
			found = true
		}
		return !found
	})
	return found
}

func (e *exchange) State() string { return e.x.State() }

// result carries the SA's addresses (NAT-T may have moved them),
// connection and use of fragments back to the daemon's table, and wipes the keys of a failed SA,
// before the daemon carries out st.
func result(c *daemon.Context, x *Exchange, st daemon.Result) daemon.Result {
	if x != nil && c.SA != nil {
		if x.SA.Remote.IsValid() {
			c.SA.Remote = x.SA.Remote
		}
		if x.SA.Local.IsValid() {
			c.SA.Local = x.SA.Local
		}
		if x.SA.Conn != nil {
			c.SA.Conn = x.SA.Conn.Name
		}
		c.SA.Fragments = x.fragmentUse()
		if st.DeleteSA {
			x.SA.Wipe()
		}
	}
	return st
}
