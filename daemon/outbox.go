package daemon

import "go.uber.org/zap"

// A loop busy with a queue of events sends its datagrams in batches: what
// it makes while more events wait goes into the outbox, and the outbox
// leaves in one sendmmsg(2) per socket when the queue is empty (or the
// outbox full), before the loop waits again. An idle loop sends each
// datagram at once, as before. Under load a responder answers several
// peers per batch; each batch is one system call and, where the peer's
// reader is asleep, one wake-up of it, where each datagram was one of
// each.

// batchWriter is a socket that sends several datagrams with one system
// call (daemon/socket.go's).
type batchWriter interface {
	// WriteDatagrams sends ds in order. It returns how many left before
	// the first that failed, and that one's error (nil when all left).
	WriteDatagrams(ds []Datagram) (int, error)
}

// outboxMax is how many datagrams the outbox holds before it is sent
// anyway: a send batch as large as a read batch.
const outboxMax = batchSize

// outgoing is a datagram in the outbox and the socket it leaves on.
type outgoing struct {
	bw batchWriter
	d  Datagram
}

// queued reports whether events wait for the loop: the datagrams the loop
// makes now can wait for those the next events make.
func (d *Daemon) queued() bool {
	return len(d.events) > 0 || (d.eng != nil && len(d.eng.Events()) > 0)
}

// send hands one datagram to pc; false when it failed (counted and
// logged). Only the loop calls it.
func (d *Daemon) send(pc PacketConn, dg Datagram) bool {
	if bw, ok := pc.(batchWriter); ok && d.queued() {
		d.outbox = append(d.outbox, outgoing{bw, dg})
		if len(d.outbox) >= outboxMax {
			d.flushOutbox()
		}
		return true
	}
	d.flushOutbox() // what waits leaves first
	if err := pc.WriteDatagram(dg); err != nil {
		d.sendFailed(dg, err)
		return false
	}
	d.Counters.Sent.Add(1)
	return true
}

// flushOutbox sends what the outbox holds, one system call for each run
// of datagrams on the same socket.
func (d *Daemon) flushOutbox() {
	out := d.outbox
	for i := 0; i < len(out); {
		bw := out[i].bw
		ds := d.outboxBuf[:0]
		for ; i < len(out) && out[i].bw == bw; i++ {
			ds = append(ds, out[i].d)
		}
		d.outboxBuf = ds
		for len(ds) > 0 {
			k, err := bw.WriteDatagrams(ds)
			d.Counters.Sent.Add(uint64(k))
			if err == nil {
				break
			}
			d.sendFailed(ds[k], err)
			ds = ds[k+1:]
		}
	}
	// Nothing sent stays reachable from here.
	clear(out)
	clear(d.outboxBuf)
	d.outbox, d.outboxBuf = out[:0], d.outboxBuf[:0]
}

// sendFailed counts and logs a datagram that did not leave.
func (d *Daemon) sendFailed(dg Datagram, err error) {
	d.Counters.SendErrors.Add(1)
	d.log.Debug("send failed", zap.Stringer("to", dg.Remote), zap.Error(err))
}
