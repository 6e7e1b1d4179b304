package phase1

import (
	"fmt"
	"time"

	"github.com/iked/iked/daemon"
)

// DPD (RFC 3706) on the established SAs, as Life runs it: the timers
// (life.go) call DPDTick; the informational handler feeds the state with
// the peer's R-U-THERE and R-U-THERE-ACK.

// Established starts DPD on a newly established SA when both ends want it
// (RFC 3706, 4). INITIAL-CONTACT is not sent here: it travels inside phase
// 1 (Exchange.initialContact), where strongSwan acts on it.
func (h *Life) Established(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	cfg := h.dpdConfig(c)
	if DPDEnabled(s, cfg) {
		if d, err := NewDPD(cfg, c.Now, c.Rand); err == nil {
			if h.dpd == nil {
				h.dpd = map[*daemon.SA]*DPD{}
			}
			h.dpd[c.SA] = d
		}
	}
	return daemon.Result{}
}

// dpdConfig is the DPD of c.SA's connection: its own dpd delay and
// timeout, which default to the daemon's (policymgr resolves them), or
// the handler's when the running policy has no such connection.
func (h *Life) dpdConfig(c *daemon.Context) DPDConfig {
	if c.Policy != nil && c.SA != nil {
		if conn, ok := c.Policy.Connection(c.SA.Conn); ok && conn.IKE != nil {
			return DPDConfig{Delay: conn.DPD.Delay, Timeout: conn.DPD.Timeout}
		}
	}
	return h.DPD
}

// DPDNext returns when DPDTick is due for sa (zero: no DPD on it).
func (h *Life) DPDNext(sa *daemon.SA) time.Time {
	if d := h.dpd[sa]; d != nil {
		return d.Next()
	}
	return time.Time{}
}

// DPDTick runs the SA's DPD at c.Now: it may send an R-U-THERE (a fresh
// message ID each, not retransmitted by the loop: DPD repeats probes
// itself) or delete the SA whose peer is dead.
func (h *Life) DPDTick(c *daemon.Context) daemon.Result {
	d := h.dpd[c.SA]
	s, err := phase1SA(c)
	if d == nil || err != nil {
		return daemon.Result{}
	}
	switch a, seq := d.Tick(c.Now); a {
	case DPDSend:
		k, ok := s.InfoKeys()
		if !ok {
			return daemon.Result{}
		}
		out, err := sealInfo(c, k, k.DPDNotify(false, seq))
		if err != nil {
			return daemon.Result{Reject: err}
		}
		return daemon.Result{Send: out}
	case DPDDeclareDead:
		delete(h.dpd, c.SA)
		if c.Log != nil {
			c.Log.Info(fmt.Sprintf("phase1: peer %s did not answer DPD for %v: deleting its SAs",
				s.Remote.Addr().Unmap(), d.cfg.Timeout))
		}
		s.Wipe()
		return daemon.Result{DeleteSA: true}
	}
	return daemon.Result{}
}

// Forget drops the DPD state of an SA the daemon deleted by other means.
func (h *Life) Forget(sa *daemon.SA) { delete(h.dpd, sa) }
