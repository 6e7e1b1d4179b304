package daemon

import (
	"fmt"
	"net/netip"
	"sync"
)

// pool runs the expensive steps of exchanges (Diffie-Hellman, signatures)
// on a fixed number of goroutines, so that a flood of first messages costs
// a bounded amount of CPU and the loop never computes.
//
// Jobs wait in two queues. The high one holds work for SAs whose peer has
// shown it is there: every job of an SA we initiated or that is
// established (Quick Mode, PFS), and a responder's later phase 1 steps
// (MM5, AM3), which come after the peer answered our KE. The low one holds
// the first job of a responder SA (AM1, MM3): what a flood asks for.
// Workers take high work first. Within a queue each source address has its
// own FIFO and the sources take turns, so a flood from one address delays
// that address's work, not everyone's. A full queue refuses the job and
// the exchange is dropped (the peer retransmits); the low queue holds as
// many jobs as the half-open table holds SAs, so a first job is refused
// only past that.
type pool struct {
	mu     sync.Mutex
	wake   *sync.Cond
	queues [numPriorities]fairQueue
	closed bool
	wg     sync.WaitGroup
}

// priority is a pool queue.
type priority uint8

const (
	priorityHigh priority = iota
	priorityLow
	numPriorities
)

// highQueue bounds the high queue.
const highQueue = 4096

func newPool(workers int) *pool {
	p := &pool{}
	p.wake = sync.NewCond(&p.mu)
	for i := range p.queues {
		p.queues[i].bySrc = map[netip.Addr]*srcJobs{}
	}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				j, ok := p.next()
				if !ok {
					return
				}
				j.do()
			}
		}()
	}
	return p
}

// submit queues j for src without blocking; false when the queue of pr
// holds limit jobs already (or the pool is closed).
func (p *pool) submit(pr priority, src netip.Addr, limit int, j job) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := &p.queues[pr]
	if p.closed || q.n >= limit {
		return false
	}
	q.push(src, j)
	p.wake.Signal()
	return true
}

// next waits for a job: high first, then low; false once closed and
// empty.
func (p *pool) next() (job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for i := range p.queues {
			if j, ok := p.queues[i].pop(); ok {
				return j, true
			}
		}
		if p.closed {
			return job{}, false
		}
		p.wake.Wait()
	}
}

// queued returns the jobs waiting in each queue.
func (p *pool) queued() (high, low int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queues[priorityHigh].n, p.queues[priorityLow].n
}

// close lets the workers finish what is queued, and waits for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.wake.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// fairQueue is one FIFO per source address, served in turn (round
// robin over the sources that have jobs).
//
// A responder's jobs come one or two at a time from each of many
// addresses, so a source's FIFO empties at nearly every pop: the emptied
// FIFOs are kept (free) and the serving order is a ring read from head,
// so that a job costs no allocation of the queue's own.
type fairQueue struct {
	bySrc map[netip.Addr]*srcJobs
	turn  []netip.Addr // sources with jobs, in serving order from head
	head  int
	free  []*srcJobs // emptied FIFOs, for the next sources
	n     int
}

// srcJobs is one source's FIFO, read from head.
type srcJobs struct {
	jobs []job
	head int
}

// maxFreeSrcJobs bounds the emptied FIFOs a queue keeps; maxKeptJobs the
// capacity of one it keeps (a flood's FIFO is let go).
const (
	maxFreeSrcJobs = 64
	maxKeptJobs    = 16
)

func (q *fairQueue) push(src netip.Addr, j job) {
	s := q.bySrc[src]
	if s == nil {
		if k := len(q.free); k > 0 {
			s = q.free[k-1]
			q.free[k-1] = nil
			q.free = q.free[:k-1]
		} else {
			s = &srcJobs{}
		}
		q.bySrc[src] = s
	}
	if s.head == len(s.jobs) {
		q.turn = append(q.turn, src)
	}
	s.jobs = append(s.jobs, j)
	q.n++
}

func (q *fairQueue) pop() (job, bool) {
	if q.head == len(q.turn) {
		return job{}, false
	}
	src := q.turn[q.head]
	q.head++
	s := q.bySrc[src]
	j := s.jobs[s.head]
	s.jobs[s.head] = job{}
	s.head++
	if s.head < len(s.jobs) {
		q.turn = append(q.turn, src)
		s.jobs, s.head = compact(s.jobs, s.head)
	} else {
		delete(q.bySrc, src)
		s.jobs, s.head = s.jobs[:0], 0
		if len(q.free) < maxFreeSrcJobs && cap(s.jobs) <= maxKeptJobs {
			q.free = append(q.free, s)
		}
	}
	q.turn, q.head = compact(q.turn, q.head)
	q.n--
	return j, true
}

// compact returns a FIFO read from head (s[head:] waits) with what waits
// moved down once the part served is as long: its array then stays as
// large as twice what waits, however long the FIFO is never empty, and
// each element moves once on average. An empty FIFO starts over.
func compact[T any](s []T, head int) ([]T, int) {
	if head == len(s) {
		return s[:0], 0
	}
	if head < len(s)-head {
		return s, head
	}
	k := copy(s, s[head:])
	clear(s[k:])
	return s[:k], 0
}

// job is one job of the pool: an exchange's Work, whose value goes back
// to the exchange run on sa through d's loop, or (f set) a function of
// its own. A job is a value in its queue, where a closure for each was
// an allocation.
type job struct {
	f    func()
	work func() any
	d    *Daemon
	sa   *SA
	run  *running
}

// do runs the job on a worker.
func (j *job) do() {
	if j.f != nil {
		j.f()
		return
	}
	v := runWork(j.work)
	j.d.Counters.WorkDone.Add(1)
	j.d.postEvent(event{sa: j.sa, run: j.run, v: v})
}

// runWork calls f and turns a panic into an error value, so that a bug in
// one exchange's crypto does not take down the daemon.
func runWork(f func() any) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = workPanic{fmt.Sprint(r)}
		}
	}()
	return f()
}

// workPanic is what Resume receives when the work function panicked.
type workPanic struct{ reason string }

func (w workPanic) Error() string { return "daemon: work panicked: " + w.reason }
