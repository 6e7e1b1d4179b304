package phase1

import (
	"net/netip"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/policymgr"
)

// Loopback runs one phase 1 between an initiator and a responder in one
// goroutine, without sockets or a daemon: what one side sends is handed
// to the other, every Work runs at once. It is the one pure driver of
// phase 1: the in-process tests and benchmarks of this package and of
// quickmode (which needs two established SAs) use it; the daemon does the
// same over the network, with retransmission and a worker pool.
type Loopback struct {
	Env                  Env
	Initiator, Responder Config
	// Conn is the initiator's connection.
	Conn             *policymgr.Connection
	ICookie, RCookie [8]byte
	// I and R are the initiator's and the responder's addresses.
	I, R netip.AddrPort
	// Seen, when valid, is the initiator's address as the responder sees
	// it: a NAT in front of the initiator.
	Seen netip.AddrPort
	// Step, if set, sees every result of each side (initiator true)
	// before it is acted on.
	Step func(initiator bool, r daemon.Result)
	// Arrival, if set, says where the initiator's next message reaches
	// the responder (its local and remote address and the NAT-T port)
	// once ok; the responder's exchange then consumes it with
	// Exchange.ConsumeFrom, as the daemon's receive path does after the
	// initiator floated.
	Arrival func(run *LoopbackRun) (local, remote netip.AddrPort, port uint16, ok bool)
}

// LoopbackDatagram is one message of a Loopback run, in sending order.
// Also marks the extra datagrams of a result (daemon.Result.Also), which
// are recorded and not delivered.
type LoopbackDatagram struct {
	FromI, Also bool
	Data        []byte
}

// LoopbackRun is what a run left: both exchanges (R nil when the responder
// refused the first message) and the datagrams.
type LoopbackRun struct {
	I, R  *Exchange
	Wires []LoopbackDatagram
}

// loopbackMax bounds the messages of a run: a phase 1 has at most six.
const loopbackMax = 20

// Run negotiates until both sides are done or nothing is left to send.
func (l *Loopback) Run() (*LoopbackRun, error) {
	x, st, err := NewInitiator(l.Env, l.Initiator, l.Conn, l.ICookie, l.I, l.R)
	if err != nil {
		return nil, err
	}
	run := &LoopbackRun{I: x}
	var queue []LoopbackDatagram
	handle := func(fromI bool, st daemon.Result) {
		for {
			if l.Step != nil {
				l.Step(fromI, st)
			}
			if st.Send != nil {
				d := LoopbackDatagram{FromI: fromI, Data: st.Send}
				run.Wires = append(run.Wires, d)
				queue = append(queue, d)
			}
			for _, a := range st.Also {
				run.Wires = append(run.Wires, LoopbackDatagram{FromI: fromI, Also: true, Data: a})
			}
			x := run.I
			if !fromI {
				x = run.R
			}
			if st.Work == nil || x == nil {
				return
			}
			st = x.Resume(l.Env, st.Work())
		}
	}
	handle(true, st)
	refused := false
	for n := 0; len(queue) > 0 && n < loopbackMax; n++ {
		d := queue[0]
		queue = queue[1:]
		switch {
		case !d.FromI:
			handle(true, run.I.Consume(l.Env, d.Data))
		case run.R != nil:
			if l.Arrival != nil {
				if local, remote, port, ok := l.Arrival(run); ok {
					handle(false, run.R.ConsumeFrom(l.Env, d.Data, local, remote, port))
					continue
				}
			}
			handle(false, run.R.Consume(l.Env, d.Data))
		case !refused:
			seen := l.I
			if l.Seen.IsValid() {
				seen = l.Seen
			}
			var rs daemon.Result
			run.R, rs = NewResponder(l.Env, l.Responder, l.ICookie, l.RCookie, l.R, seen, d.Data)
			refused = run.R == nil
			handle(false, rs)
		}
	}
	return run, nil
}
