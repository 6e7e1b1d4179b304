package daemon

import (
	"net/netip"

	"go.uber.org/zap"
)

// armRetransmit schedules the next retransmission of run's request.
func (d *Daemon) armRetransmit(sa *SA, run *running) {
	run.gen++
	gen := run.gen
	if run.timer != nil {
		run.timer.Stop()
	}
	run.timer = d.clock.AfterFunc(run.timeout, func() {
		d.post(func() { d.retransmit(sa, run, gen) })
	})
}

// retransmit sends the request again with a doubled timeout, or gives up
// after RetransmitTries (RFC 2408, 5: the exchange then fails).
func (d *Daemon) retransmit(sa *SA, run *running, gen uint64) {
	if run.gen != gen || !run.request || !d.alive(sa) || sa.exchanges[run.id] != run {
		return
	}
	if run.tries < d.settings.RetransmitTries {
		run.tries++
		d.Counters.Retransmits.Add(1)
		d.transmit(sa, run.lastOut)
		run.timeout *= 2
		d.armRetransmit(sa, run)
		return
	}
	d.Counters.GaveUp.Add(1)
	d.log.Warn("no answer from the peer: giving up the exchange",
		zap.Stringer("peer", sa.Remote), zap.Stringer("cookies", sa.Cookies),
		zap.Stringer("exchange", run.typ), zap.Uint32("message-id", run.id),
		zap.Int("sends", run.tries+1))
	run.request = false
	var res Result
	if run.ex != nil {
		res = d.safeCall(sa, run, func(c *Context) Result { return run.ex.TimedOut(c) })
	}
	if res.Reject == nil && run.ex != nil {
		res.Send, res.Request, res.Work = nil, false, nil
		d.carryOut(sa, run, res, false)
	}
	if d.alive(sa) {
		d.endExchange(sa, run)
	}
}

// transmit sends one IKE message on the SA's addresses, with the non-ESP
// marker when they are on the NAT-T port (RFC 3948, 2.2), in fragments
// when it is too large for the path and the SA uses them (fragment.go).
func (d *Daemon) transmit(sa *SA, msg []byte) {
	bc := d.pickConn(sa.Local, sa.Remote)
	if bc == nil {
		d.Counters.SendErrors.Add(1)
		d.log.Debug("no socket to send from", zap.Stringer("local", sa.Local), zap.Stringer("remote", sa.Remote))
		return
	}
	msgs := d.fragment(sa, msg, bc.natt)
	if msgs == nil {
		msgs = [][]byte{msg}
	} else {
		d.Counters.FragmentsSent.Add(uint64(len(msgs)))
	}
	for _, m := range msgs {
		data := m
		if bc.natt {
			data = frameNATT(m)
		}
		if !d.send(bc.pc, Datagram{Data: data, Local: sa.Local, Remote: sa.Remote}) {
			return
		}
	}
	sa.LastSent = d.clock.Now()
}

// transmitRaw sends a datagram as it is on the SA's addresses: a NAT
// keepalive, which carries no non-ESP marker (RFC 3948, 2.3).
func (d *Daemon) transmitRaw(sa *SA, data []byte) {
	bc := d.pickConn(sa.Local, sa.Remote)
	if bc == nil {
		d.Counters.SendErrors.Add(1)
		return
	}
	if err := bc.pc.WriteDatagram(Datagram{Data: data, Local: sa.Local, Remote: sa.Remote}); err != nil {
		d.Counters.SendErrors.Add(1)
		d.log.Debug("send failed", zap.Stringer("to", sa.Remote), zap.Error(err))
		return
	}
	if len(data) == 1 && data[0] == natKeepalive {
		d.Counters.KeepalivesSent.Add(1)
	} else {
		d.Counters.Sent.Add(1)
	}
	sa.LastSent = d.clock.Now()
}

// pickConn finds the socket for local (its port; its address if a socket is
// bound to it, else the wildcard one) in remote's family.
func (d *Daemon) pickConn(local, remote netip.AddrPort) *boundConn {
	port := local.Port()
	if port == 0 {
		port = d.settings.IKEPort
	}
	v4 := remote.Addr().Unmap().Is4()
	var wild *boundConn
	for _, bc := range d.conns {
		b := bc.pc.LocalAddr()
		if b.Port() != port || b.Addr().Unmap().Is4() != v4 {
			continue
		}
		if b.Addr() == local.Addr() {
			return bc
		}
		if b.Addr().IsUnspecified() && wild == nil {
			wild = bc
		}
	}
	return wild
}
