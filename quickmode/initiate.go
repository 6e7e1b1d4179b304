package quickmode

import (
	"fmt"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// acquireDamping is how long a connection's ACQUIRE is ignored after one
// started a negotiation (the kernel repeats them while packets wait).
const acquireDamping = 10 * time.Second

// Initiate starts phase 1 of the connection; Quick Mode follows once it is
// established (daemon.Initiator).
func (rt *Manager) Initiate(c *daemon.Context, name string) (daemon.Exchange, daemon.Result, error) {
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
	rt    *Manager
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
		if len(olds) == 0 && (ch.rt.Info == nil || !ch.rt.Info.Life.Reauthenticates(c)) {
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
func (rt *Manager) begin(c *daemon.Context, name string) []notify.Message {
	return rt.beginRekey(c, name, nil)
}

// Kernel handles the engine's own reports (daemon.KernelHandler): an
// ACQUIRE starts Quick Mode on the connection's established ISAKMP SA, or
// phase 1 first; a soft EXPIRE rekeys the bundle (rekey); a hard EXPIRE
// forgets it and leaves its kernel policies in place (fail closed).
func (rt *Manager) Kernel(c *daemon.Context, ev engine.Event) daemon.Result {
	p := c.Policy
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
				logGone(c.Log, []*Child{old}, "expired")
				// Its policies stay: traffic of its selectors is dropped
				// (and raises an ACQUIRE that negotiates again), never
				// sent in clear (fail closed, interop/kernel_rekey_test.go
				// TestKernelHardExpiry). A new bundle of the selectors
				// takes them over; nothing else removes them before iked
				// stops.
			}
		}
	case engine.EventExpireSoft:
		if ev.Expire != nil {
			return rt.rekey(c, ev.Expire.SA)
		}
	}
	return daemon.Result{}
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
