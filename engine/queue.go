package engine

import (
	"sync"

	"github.com/iked/iked/notify"
)

// DefaultQueueSize bounds the daemon-to-engine queue when Config leaves it 0.
// A peer that goes away with many SAs (a gateway of many clients
// restarting, a load generator stopping) sends their Deletes in one burst,
// each asking the engine for a delete of its bundle's SAs and policies,
// faster than a loaded engine worker empties the queue: 1,024 entries
// overflowed (message 70) for 1,500 SA pairs deleted at once
// (docs/performance.md). An entry is a sequence number and a request
// interface (24 bytes): the two rings of 16,384 cost 768 KiB.
const DefaultQueueSize = 16384

// QueueStats counts what the queue did; the control server shows them.
type QueueStats struct {
	Accepted         uint64 // entries put in the queue
	DroppedOrdinary  uint64 // message 68: the queue was full, an ordinary entry dropped
	Displaced        uint64 // message 69: an ordinary entry dropped for an important one
	DroppedImportant uint64 // message 70: full of important entries, the new one dropped
	Len              int    // entries waiting now
	HighWater        int    // most entries ever waiting
	Size             int    // the bound
}

// Queue is the bounded queue from the daemon's event loop to the engine's
// worker (messages 68-70, docs/messages.md). Put never blocks: when the
// queue is full an ordinary entry is dropped, an important one takes the
// place of the oldest ordinary entry, and only a queue full of important
// entries drops an important one. Entries come out in the order they went in.
type Queue struct {
	mu        sync.Mutex
	size      int
	important ring
	ordinary  ring
	seq       uint64
	closed    bool
	ready     chan struct{} // a token when entries may be waiting
	report    func(notify.Message)
	stats     QueueStats
}

type queued struct {
	seq uint64
	req Request
}

// ring is a fixed-capacity FIFO; both classes get the full capacity, and
// Queue bounds their sum.
type ring struct {
	buf        []queued
	head, size int
}

func (r *ring) push(q queued) {
	r.buf[(r.head+r.size)%len(r.buf)] = q
	r.size++
}

func (r *ring) peek() queued { return r.buf[r.head] }

func (r *ring) pop() queued {
	q := r.buf[r.head]
	r.buf[r.head] = queued{}
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return q
}

// NewQueue returns a queue of size entries (DefaultQueueSize if size <= 0)
// that reports messages 68-70 to report (which may be nil).
func NewQueue(size int, report func(notify.Message)) *Queue {
	if size <= 0 {
		size = DefaultQueueSize
	}
	if report == nil {
		report = func(notify.Message) {}
	}
	return &Queue{
		size:      size,
		important: ring{buf: make([]queued, size)},
		ordinary:  ring{buf: make([]queued, size)},
		ready:     make(chan struct{}, 1),
		report:    report,
	}
}

// Put adds r without blocking. It returns the entry that was dropped to
// respect the bound, if any: r itself (messages 68, 70, or a closed queue),
// or an older ordinary entry it displaced (message 69). The caller fails
// whatever waited for a dropped entry's answer.
func (q *Queue) Put(r Request) (dropped Request) {
	var msg notify.Message
	var haveMsg bool

	q.mu.Lock()
	switch {
	case q.closed:
		dropped = r
	case q.important.size+q.ordinary.size < q.size:
	case !r.Important():
		q.stats.DroppedOrdinary++
		msg, haveMsg = notify.QueueOrdinaryDropped(r.Len(), int(r.Type()), q.size), true
		dropped = r
	case q.ordinary.size > 0:
		q.stats.Displaced++
		msg, haveMsg = notify.QueueMadeSpace(), true
		dropped = q.ordinary.pop().req
	default:
		q.stats.DroppedImportant++
		msg, haveMsg = notify.QueueImportantDropped(r.Len(), int(r.Type())), true
		dropped = r
	}
	if dropped != r {
		q.seq++
		e := queued{seq: q.seq, req: r}
		if r.Important() {
			q.important.push(e)
		} else {
			q.ordinary.push(e)
		}
		q.stats.Accepted++
		q.stats.HighWater = max(q.stats.HighWater, q.important.size+q.ordinary.size)
	}
	q.mu.Unlock()

	if dropped != r {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if haveMsg {
		q.report(msg)
	}
	return dropped
}

// TryGet takes the oldest entry without waiting.
func (q *Queue) TryGet() (Request, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *Queue) takeLocked() (Request, bool) {
	var r *ring
	switch {
	case q.important.size == 0 && q.ordinary.size == 0:
		return nil, false
	case q.important.size == 0:
		r = &q.ordinary
	case q.ordinary.size == 0:
		r = &q.important
	case q.important.peek().seq < q.ordinary.peek().seq:
		r = &q.important
	default:
		r = &q.ordinary
	}
	return r.pop().req, true
}

// Get waits for the oldest entry. It returns false once the queue is closed
// and empty, or when done is closed.
func (q *Queue) Get(done <-chan struct{}) (Request, bool) {
	for {
		q.mu.Lock()
		r, ok := q.takeLocked()
		closed := q.closed
		more := q.important.size+q.ordinary.size > 0
		q.mu.Unlock()
		if ok {
			if more {
				// Pass the token on: one signal may stand for several entries.
				select {
				case q.ready <- struct{}{}:
				default:
				}
			}
			return r, true
		}
		if closed {
			return nil, false
		}
		select {
		case <-q.ready:
		case <-done:
			return nil, false
		}
	}
}

// Close refuses new entries; Get drains the ones waiting, then returns false.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Len = q.important.size + q.ordinary.size
	s.Size = q.size
	return s
}

// Size is the queue's bound.
func (q *Queue) Size() int { return q.size }
