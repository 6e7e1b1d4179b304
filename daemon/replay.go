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

// idHistory is the bounded set of an SA's finished message IDs, in
// arrival order: a slice that grows to MessageIDHistory entries, then a
// ring. Look-ups scan it (64 entries at most): an index map and a ring
// made whole on the first add cost about 6 KiB per SA, 594 MB of the
// heap of 100,000 SAs with one Quick Mode each (docs/performance.md),
// where one entry is 64 bytes. A half-open SA costs nothing here.
type idHistory struct {
	ring []finishedID
	next int // once full, where the next entry goes (the oldest)
}

// lookup returns the remembered entry of id.
func (h *idHistory) lookup(id uint32) (finishedID, bool) {
	if h == nil {
		return finishedID{}, false
	}
	for i := range h.ring {
		if h.ring[i].id == id {
			return h.ring[i], true
		}
	}
	return finishedID{}, false
}

// add remembers id; it reports whether an older ID had to be forgotten
// to make room. Adding an ID already there refreshes its entry in place.
func (h *idHistory) add(f finishedID) (evicted bool) {
	for i := range h.ring {
		if h.ring[i].id == f.id {
			h.ring[i] = f
			return false
		}
	}
	if len(h.ring) < MessageIDHistory {
		h.ring = append(h.ring, f)
		return false
	}
	h.ring[h.next] = f
	h.next = (h.next + 1) % MessageIDHistory
	return true
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
