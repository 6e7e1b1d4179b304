package quickmode

import (
	"encoding/binary"
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
)

// Informational returns the daemon.Handler of informational exchanges: a
// message whose notifies all concern IPsec SAs (a refused or changed
// Quick Mode, CONNECTED) is message 60 and leaves the ISAKMP SA alone;
// everything else goes to phase 1's handler, and the IPsec SAs the peer
// deletes (message 62, logged by phase 1) are removed from the engine.
func (rt *Manager) Informational() daemon.Handler { return infoHandler{rt} }

type infoHandler struct{ rt *Manager }

func (h infoHandler) Start(c *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	rt := h.rt
	if p1, err := phase1Of(c); err == nil {
		if k, ok := p1.InfoKeys(); ok {
			if inf, err := phase1.OpenInformational(p.Data, &k); err == nil && len(inf.Deletes) == 0 && phase2Only(inf) {
				var r daemon.Result
				for _, n := range inf.Notifies {
					r.Log = append(r.Log, notify.QMNotification(int(n.NotifyType), n.NotifyType.String(), len(n.Data),
						p.Remote, int(n.Protocol), n.SPI))
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
		gone := rt.takeChildren(c.SA, rt.deleted)
		logGone(c.Log, gone, "peer-deleted")
		r.Engine = append(r.Engine, rt.peerClosed(c, gone)...)
	}
	rt.deleted = rt.deleted[:0]
	// A Delete of the ISAKMP SA itself: SARemoved decides what becomes
	// of its remaining IPsec SAs (watch.go).
	return ex, r
}

// refused ends our waiting Quick Mode that the peer's error notify is
// about: the one whose SPI it names, or the only one waiting when the SPI
// is zero or absent (strongSwan sends SPI 0 with NO-PROPOSAL-CHOSEN).
func (rt *Manager) refused(c *daemon.Context, n *isakmp.Notification) []notify.Message {
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

// Deleter returns the daemon.Deleter for `ikectl terminate` and shutdown:
// with IPsec SAs on the ISAKMP SA (or detached ones of its connection and
// peer), one protected informational deletes them and then the ISAKMP SA
// (as strongSwan does), and the engine removes them; without, phase 1's
// Deleter says goodbye.
func (rt *Manager) Deleter() daemon.Deleter { return deleter{rt} }

type deleter struct{ rt *Manager }

func (d deleter) Delete(c *daemon.Context) daemon.Result {
	rt := d.rt
	children := rt.children[c.SA]
	// Bundles of the same connection and peer that outlived an earlier
	// ISAKMP SA go too: terminate means the whole connection.
	if c.SA != nil && len(rt.detached) > 0 {
		children = append(children, rt.takeDetached(func(ch *Child) bool { return belongs(ch, c.SA) })...)
	}
	rt.unpend(children)
	rt.setChildren(c.SA, nil)
	delete(rt.initiating, c.SA)
	delete(rt.responding, c.SA)
	p1, err := phase1Of(c)
	if len(children) == 0 || err != nil {
		if rt.Info != nil {
			return phase1.Deleter{Life: rt.Info.Life}.Delete(c)
		}
		return daemon.Result{}
	}
	if rt.Info != nil {
		rt.Info.Life.Forget(c.SA)
	}
	logGone(c.Log, children, "deleted")
	r := daemon.Result{Engine: deleteRequests(c, children)}
	mid, err := isakmp.NewMessageID(c.Rand, nil)
	if err != nil {
		return r
	}
	out, err := DeleteChildren(p1, mid, children, true)
	if err != nil {
		return r
	}
	r.Send = out
	if k, ok := p1.InfoKeys(); ok {
		phase1.LogDelete(c.Log, p1.Remote, childDeletes(&k, children, true))
	}
	return r
}
