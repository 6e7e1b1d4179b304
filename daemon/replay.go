package daemon

import (
	"slices"

	"go.uber.org/zap"
)

// Every message ID of a finished exchange is remembered for as long as its
// ISAKMP SA lives: a message with one of them cannot start a new exchange.
// A replayed protected informational (INITIAL-CONTACT, Delete, R-U-THERE)
// would otherwise be acted on again (a replayed INITIAL-CONTACT deletes
// the peer's newer SAs), and a Quick Mode message 1 whose exchange
// finished and left the reply cache would otherwise be negotiated again.
// RFC 2408, 3.1 only asks message IDs to be unique per phase 2; a window
// of recent IDs is not enough, since an attacker can wait for the window
// to pass. The IDs are kept sorted, four bytes each.
//
// MessageIDHistory is how many of the most recent ones also keep the
// SHA-256 of the message and our answer, so that an identical copy of an
// informational we answered (a retransmitted R-U-THERE) gets the same
// answer again, as strongSwan's task_manager_v1.c does ("received
// retransmit of DPD request, retransmitting response"); 64 covers the
// reply cache time many times over for DPD at strongSwan's shortest
// useful delay. Older IDs are only refused.
const MessageIDHistory = 64

// MaxMessageIDs bounds the IDs one ISAKMP SA remembers (512 KiB), since
// only an authenticated peer can add to them but nothing else would stop
// it. An SA that reaches it is deleted as if its lifetime ended (the peer
// is told and negotiates a new one); DPD every second for a day uses 86,400.
const MaxMessageIDs = 1 << 17

// finishedID is one remembered message ID: the SHA-256 of the message
// that finished it and the answer we sent, if any (recent IDs only).
type finishedID struct {
	id    uint32
	sum   [32]byte
	reply []byte
}

// idHistory is an SA's finished message IDs: all of them, sorted, and the
// last MessageIDHistory with their messages in a ring. Both are made on
// the first add, so that a half-open SA (spoofed first messages) costs
// nothing here.
type idHistory struct {
	all  []uint32
	ring []finishedID
	next int // where the next ring entry goes
}

// lookup returns the remembered entry of id: with its message and answer
// while it is recent, with only its ID after that.
func (h *idHistory) lookup(id uint32) (finishedID, bool) {
	if h == nil {
		return finishedID{}, false
	}
	if _, found := slices.BinarySearch(h.all, id); !found {
		return finishedID{}, false
	}
	for _, f := range h.ring {
		if f.id == id {
			return f, true
		}
	}
	return finishedID{id: id}, true
}

// add remembers f; adding an ID already there refreshes its ring entry
// when it is still recent. It reports false when the SA already holds
// MaxMessageIDs.
func (h *idHistory) add(f finishedID) bool {
	i, found := slices.BinarySearch(h.all, f.id)
	if found {
		for j := range h.ring {
			if h.ring[j].id == f.id {
				h.ring[j] = f
			}
		}
		return true
	}
	if len(h.all) >= MaxMessageIDs {
		return false
	}
	h.all = slices.Insert(h.all, i, f.id)
	if len(h.ring) < MessageIDHistory {
		h.ring = append(h.ring, f)
		return true
	}
	h.ring[h.next] = f
	h.next = (h.next + 1) % MessageIDHistory
	return true
}

// len returns how many message IDs are remembered.
func (h *idHistory) len() int { return len(h.all) }

// remember records a finished exchange's message ID on sa. An SA whose
// memory is then full is deleted (see MaxMessageIDs) once the current
// call is carried out.
func (d *Daemon) remember(sa *SA, f finishedID) {
	if f.id == 0 {
		return // phase 1's ID, never a phase 2 exchange (RFC 2408, 3.1)
	}
	sa.history.add(f)
	if !sa.history.full() || sa.historyFull {
		return
	}
	// receive starts no exchange on it any more (an ID not remembered
	// could be replayed); the deletion waits for the loop's next turn,
	// or for the next exchange to finish if the loop's queue is full.
	sa.historyFull = d.tryPost(event{f: func() {
		if d.alive(sa) {
			d.deleteSA(sa, RemoveExpired)
		}
	}})
	if sa.historyFull {
		d.Counters.HistoryFull.Add(1)
		d.log.Warn("ISAKMP SA used up its message IDs: deleting it", zap.Stringer("cookies", sa.Cookies),
			zap.String("conn", sa.Conn), zap.Int("message-ids", sa.history.len()))
	}
}

// full reports whether the SA can remember no more message IDs, and
// so must start no new exchange.
func (h *idHistory) full() bool { return len(h.all) >= MaxMessageIDs }
