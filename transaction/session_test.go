package transaction

import (
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// releases is a ModeConfig that counts what it is given back.
type releases struct{ released []daemon.Cookies }

func (r *releases) Reply(*policymgr.Connection, daemon.Cookies, string, string, []isakmp.Attribute) ([]isakmp.Attribute, error) {
	return nil, nil
}
func (r *releases) Release(owner daemon.Cookies)                     { r.released = append(r.released, owner) }
func (r *releases) Request(*policymgr.Connection) []isakmp.Attribute { return nil }
func (r *releases) Apply(*policymgr.Connection, daemon.Cookies, []isakmp.Attribute) error {
	return nil
}

// TestEstablishedKeepsEarlierLease: a gateway's session that leased an
// address before the SA was reported established (a peer's Mode Config
// REQUEST first) is replaced by SAEstablished's; the lease must still be
// given back when the SA goes.
func TestEstablishedKeepsEarlierLease(t *testing.T) {
	mc := &releases{}
	h := NewHandler(nil)
	h.ModeConfig = mc
	conn := &policymgr.Connection{Name: "rw", IKE: &policymgr.Phase1{},
		ModeConfig: &policymgr.ModeConfig{Pool: &policymgr.Pool{}, PoolName: "rw"}}
	sa := &daemon.SA{Cookies: daemon.Cookies{I: [8]byte{1}, R: [8]byte{2}}, Role: daemon.RoleResponder, Established: true}
	p1 := &phase1.SA{Conn: conn}
	sa.SetPhase1(p1)
	c := &daemon.Context{SA: sa}

	early := h.newSession(p1)
	early.leased, early.mcDone = true, true
	h.sessions[sa] = early
	h.SAEstablished(c)
	if h.sessions[sa] == early {
		t.Fatal("SAEstablished kept the earlier session; this test wants it replaced")
	}
	h.SARemoved(c, daemon.RemoveUnspecified)
	if len(mc.released) != 1 || mc.released[0] != sa.Cookies {
		t.Errorf("released %v, want the SA's cookies once", mc.released)
	}
	if len(h.sessions) != 0 {
		t.Errorf("%d sessions left after the SA went", len(h.sessions))
	}
}
