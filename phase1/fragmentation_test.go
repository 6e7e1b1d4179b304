package phase1

import (
	"bytes"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// TestFragmentationVendorID: the initiator announces IKE fragmentation
// unless its connection says no; the responder answers the announcement
// unless its connection says no, and never announces unasked (as
// strongSwan's isakmp_vendor.c); each side records what the other
// announced and hands the daemon its connection's key with it.
func TestFragmentationVendorID(t *testing.T) {
	for _, tc := range []struct {
		i, r         string // the connections' fragmentation ("" for the default)
		inMM1, inMM2 bool
		iUse, rUse   daemon.FragmentUse
	}{
		{"", "", true, true,
			daemon.FragmentUse{Mode: policymgr.FragmentYes, Peer: true, Exchange: isakmp.ExchangeMain},
			daemon.FragmentUse{Mode: policymgr.FragmentYes, Peer: true, Exchange: isakmp.ExchangeMain}},
		{"force", "", true, true,
			daemon.FragmentUse{Mode: policymgr.FragmentForce, Peer: true, Exchange: isakmp.ExchangeMain},
			daemon.FragmentUse{Mode: policymgr.FragmentYes, Peer: true, Exchange: isakmp.ExchangeMain}},
		{"no", "", false, false,
			daemon.FragmentUse{Mode: policymgr.FragmentNo, Exchange: isakmp.ExchangeMain},
			daemon.FragmentUse{Mode: policymgr.FragmentYes, Exchange: isakmp.ExchangeMain}},
		{"yes", "no", true, false,
			daemon.FragmentUse{Mode: policymgr.FragmentYes, Exchange: isakmp.ExchangeMain},
			daemon.FragmentUse{Mode: policymgr.FragmentNo, Peer: true, Exchange: isakmp.ExchangeMain}},
	} {
		a, b := pskPair("main")
		a.fragmentation, b.fragmentation = tc.i, tc.r
		pi, pr := policyFor(t, a), policyFor(t, b)
		conn, _ := pi.Connection("c")
		hooks := NewHooks(NATTConfig{})
		var wires [][]byte
		l := &Loopback{Env: testEnv(), Initiator: Config{Policy: pi, Hooks: hooks}, Responder: Config{Policy: pr, Hooks: hooks},
			Conn: conn, ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, RCookie: [8]byte{9, 10, 11, 12, 13, 14, 15, 16}, I: addrA, R: addrB}
		run, err := l.Run()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range run.Wires {
			wires = append(wires, w.Data)
		}
		if run.I.SA.State != StateEstablished || run.R.SA.State != StateEstablished || len(wires) < 2 {
			t.Fatalf("%s/%s: not established", tc.i, tc.r)
		}
		for k, want := range []bool{tc.inMM1, tc.inMM2} {
			if got := bytes.Contains(wires[k], vidFragmentation); got != want {
				t.Errorf("%s/%s: FRAGMENTATION Vendor ID in MM%d: %v, want %v", tc.i, tc.r, k+1, got, want)
			}
		}
		if u := run.I.fragmentUse(); u != tc.iUse {
			t.Errorf("%s/%s: initiator %+v, want %+v", tc.i, tc.r, u, tc.iUse)
		}
		if u := run.R.fragmentUse(); u != tc.rUse {
			t.Errorf("%s/%s: responder %+v, want %+v", tc.i, tc.r, u, tc.rUse)
		}
	}
}
