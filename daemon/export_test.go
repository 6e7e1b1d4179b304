package daemon

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
)

// SAView is what the stateful fuzz target (fuzz_receive_test.go) compares
// of one ISAKMP SA before and after a datagram.
type SAView struct {
	Cookies       Cookies
	Local, Remote netip.AddrPort
	Established   bool
}

// TableView returns every SA in the tables, read on the loop, and an
// error naming each invariant of the tables that does not hold:
//   - the half-open count is the number of half-open responder SAs in the
//     table, and within HalfOpenMax;
//   - every SA is filed under its own cookies, every first-message key
//     names a half-open SA of the table with that key, every initiator
//     cookie an initiator SA with it;
//   - the fragments held (reassembly.go) are within their bounds and
//     what each source and the daemon are charged is what they hold.
//
// A daemon that stopped has no tables to read (errStopped).
func (d *Daemon) TableView() (view map[*SA]SAView, err error) {
	ok := d.call(func() {
		view = map[*SA]SAView{}
		var errs []error
		half := 0
		for c, sa := range d.sas {
			view[sa] = SAView{sa.Cookies, sa.Local, sa.Remote, sa.Established}
			if sa.Cookies != c {
				errs = append(errs, fmt.Errorf("SA %v filed under %v", sa.Cookies, c))
			}
			if sa.Role == RoleResponder && !sa.Established && sa.first != nil {
				half++
			}
		}
		if half != d.halfOpen || d.halfOpen > d.settings.HalfOpenMax || d.halfOpen < 0 {
			errs = append(errs, fmt.Errorf("half-open count %d, %d half-open SAs in the table (max %d)", d.halfOpen, half, d.settings.HalfOpenMax))
		}
		for fk, sa := range d.firsts {
			if d.sas[sa.Cookies] != sa || sa.first == nil || *sa.first != fk || sa.Established {
				errs = append(errs, fmt.Errorf("first-message key %v names SA %v that is not half-open in the table", fk, sa.Cookies))
			}
		}
		for i, sa := range d.byInit {
			view[sa] = SAView{sa.Cookies, sa.Local, sa.Remote, sa.Established}
			if sa.Cookies.I != i || sa.Role != RoleInitiator {
				errs = append(errs, fmt.Errorf("initiator cookie %x names SA %v (%s)", i, sa.Cookies, sa.Role))
			}
		}
		errs = append(errs, d.reasm.check()...)
		err = errors.Join(errs...)
	})
	if !ok {
		return nil, errStopped
	}
	return view, err
}

var errStopped = errors.New("daemon stopped")

// check returns what is wrong with the fragment store's bookkeeping.
func (r *reassembly) check() []error {
	var errs []error
	total, bySource := 0, map[netip.Addr]int{}
	for k, b := range r.bufs {
		if b.key != k || len(b.frags) == 0 || len(b.frags) > ReassemblyMaxFragments || b.size > ReassemblyMaxBytes ||
			bits.OnesCount64(b.have) != len(b.frags) || (b.last != 0 && len(b.frags) >= int(b.last)) {
			errs = append(errs, fmt.Errorf("fragments of %v: %d held (mask %x, last %d), %d bytes", k, len(b.frags), b.have, b.last, b.size))
		}
		total += b.cost
		bySource[k.remote.Addr()] += b.cost
	}
	if total != r.total || total > ReassemblyTotal {
		errs = append(errs, fmt.Errorf("fragments charged %d bytes in all, %d held (cap %d)", r.total, total, ReassemblyTotal))
	}
	for a, n := range r.bySource {
		if bySource[a] != n || n > ReassemblyPerSource {
			errs = append(errs, fmt.Errorf("source %v charged %d bytes, %d held (cap %d)", a, n, bySource[a], ReassemblyPerSource))
		}
		delete(bySource, a)
	}
	if len(bySource) != 0 {
		errs = append(errs, fmt.Errorf("sources holding fragments uncharged: %v", bySource))
	}
	return errs
}
