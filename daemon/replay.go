package daemon

// MessageIDHistory is how many message IDs of finished exchanges each
// ISAKMP SA remembers (the last ones, in a ring). A message with one of
// them cannot start a new exchange: a replayed protected informational
// (INITIAL-CONTACT, Delete, R-U-THERE) would otherwise be acted on again
// (a replayed INITIAL-CONTACT deletes the peer's newer SAs), and a Quick
// Mode message 1 whose exchange finished and left the reply cache would
// otherwise be negotiated again. RFC 2408, 3.1 only asks message IDs to
// be unique per phase 2; 64 covers the reply cache time many times over
// for DPD at strongSwan's shortest useful delay. An older ID falls out
// of the ring and is counted (Counters.HistoryEvicted): past 64 newer
// exchanges on the same SA a replay is no longer recognised here.
const MessageIDHistory = 64

// finishedID is one remembered message ID: the SHA-256 of the message
// that finished it and the answer we sent, if any. An identical copy of
// an informational that we answered (a retransmitted R-U-THERE) gets the
// same answer again, as strongSwan's task_manager_v1.c does ("received
// retransmit of DPD request, retransmitting response"); anything else
// with the ID is dropped.
type finishedID struct {
	id    uint32
	sum   [32]byte
	reply []byte
}

// idHistory is the bounded set of an SA's finished message IDs: a ring in
// arrival order and an index into it. Both are made on the first add, so
// that a half-open SA (spoofed first messages) costs nothing here.
type idHistory struct {
	ring  []finishedID
	n     int // entries in use
	next  int // where the next entry goes
	index map[uint32]int
}

// lookup returns the remembered entry of id.
func (h *idHistory) lookup(id uint32) (finishedID, bool) {
	if h == nil || h.index == nil {
		return finishedID{}, false
	}
	i, ok := h.index[id]
	if !ok {
		return finishedID{}, false
	}
	return h.ring[i], true
}

// add remembers id; it reports whether an older ID had to be forgotten
// to make room. Adding an ID already there refreshes its entry in place.
func (h *idHistory) add(f finishedID) (evicted bool) {
	if h.index == nil {
		h.ring = make([]finishedID, MessageIDHistory)
		h.index = make(map[uint32]int, MessageIDHistory)
	}
	if i, ok := h.index[f.id]; ok {
		h.ring[i] = f
		return false
	}
	if h.n == MessageIDHistory {
		delete(h.index, h.ring[h.next].id)
		evicted = true
	} else {
		h.n++
	}
	h.ring[h.next] = f
	h.index[f.id] = h.next
	h.next = (h.next + 1) % MessageIDHistory
	return evicted
}

// remember records a finished exchange's message ID on sa, counting an
// eviction.
func (d *Daemon) remember(sa *SA, f finishedID) {
	if f.id == 0 {
		return // phase 1's ID, never a phase 2 exchange (RFC 2408, 3.1)
	}
	if sa.history.add(f) {
		d.Counters.HistoryEvicted.Add(1)
	}
}
