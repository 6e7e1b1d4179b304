package transaction_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
	"github.com/iked/iked/transaction"
)

// internalIP4 is Mode Config's INTERNAL_IP4_ADDRESS
// (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.3); the constants live with the
// Mode Config store, this test's own below.
const internalIP4 = 1

// store is a test's own Mode Config store (transaction.ModeConfig): one
// address per ISAKMP SA, what clients applied, what was released.
type store struct {
	mu       sync.Mutex
	leased   map[daemon.Cookies]netip.Addr
	applied  []netip.Addr
	released int
	user     string
	// push: a client that waits for the gateway's SET instead of asking.
	push bool
}

func newStore() *store { return &store{leased: map[daemon.Cookies]netip.Addr{}} }

func (s *store) Reply(_ *policymgr.Connection, owner daemon.Cookies, _, user string, _ []isakmp.Attribute) ([]isakmp.Attribute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := netip.AddrFrom4([4]byte{10, 99, 0, byte(10 + len(s.leased))})
	s.leased[owner] = a
	s.user = user
	return []isakmp.Attribute{isakmp.VarAttr(uint16(internalIP4), a.AsSlice())}, nil
}

func (s *store) Release(owner daemon.Cookies) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leased, owner)
	s.released++
}

func (s *store) Request(*policymgr.Connection) []isakmp.Attribute {
	if s.push {
		return nil
	}
	return []isakmp.Attribute{isakmp.VarAttr(uint16(internalIP4), nil)}
}

func (s *store) Apply(_ *policymgr.Connection, _ daemon.Cookies, got []isakmp.Attribute) error {
	a, ok := isakmp.Attributes(got).Get(internalIP4)
	if !ok || len(a.Data) != 4 {
		return errors.New("no INTERNAL_IP4_ADDRESS")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = append(s.applied, netip.AddrFrom4([4]byte(a.Data)))
	return nil
}

// TestModeConfigAfterXAuth: after XAUTH the client pulls its Mode Config
// (REQUEST, REPLY; Quick Mode waits for it) or the gateway pushes it
// (SET, ACK) to a client that asks for nothing; the client applies the
// address, the gateway's store saw the authenticated user, and the lease
// is released when the ISAKMP SA goes.
func TestModeConfigAfterXAuth(t *testing.T) {
	for _, push := range []bool{false, true} {
		name := "pull"
		if push {
			name = "push"
		}
		t.Run(name, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				gw, cl := newStore(), newStore()
				cl.push = push
				pb, ob := gateway(t, nw)
				ob.Edit = func(s *stack.Stack) {
					s.Transaction.ModeConfig = gw
					if push {
						s.Transaction.Push = func(*policymgr.Connection) bool { return true }
					}
				}
				oa := stacktest.Options{Net: nw, Edit: func(s *stack.Stack) { s.Transaction.ModeConfig = cl }}
				a, b := stacktest.Pair(t, client(t, "correct horse"), oa, pb, ob)
				a.WaitSAs(t, 2, 20*time.Second)
				b.WaitSAs(t, 2, 20*time.Second)
				var applied []netip.Addr
				stacktest.Wait(t, 5*time.Second, "address applied", func() bool {
					cl.mu.Lock()
					defer cl.mu.Unlock()
					applied = cl.applied
					return len(applied) > 0
				}, a, b)
				if len(applied) != 1 || applied[0] != netip.MustParseAddr("10.99.0.10") {
					t.Fatalf("client applied %v", applied)
				}
				if gw.user != "alice" {
					t.Errorf("the store saw user %q", gw.user)
				}
				// XAUTH 2+2, Mode Config 1+1.
				if fa, fb := transactions(t, nw); fa != 3 || fb != 3 {
					t.Errorf("Transaction messages: %d from the client, %d from the gateway; want 3 and 3", fa, fb)
				}
				// After an ACK (push) the client waits for the gateway
				// to take it; after the gateway's REPLY (pull) it need not.
				ack, qm := ackToQuickMode(t, nw)
				if gap := qm.Sub(ack); push && gap < transaction.AckSettle || !push && gap >= transaction.AckSettle {
					t.Errorf("the client's QM1 left %v after its last Transaction message (push %v; transaction.AckSettle %v)", gap, push, transaction.AckSettle)
				}
				a.Ctl(t, "terminate", "link")
				stacktest.Wait(t, 10*time.Second, "lease released", func() bool {
					gw.mu.Lock()
					defer gw.mu.Unlock()
					return gw.released == 1 && len(gw.leased) == 0
				}, a, b)
			})
		})
	}
}
