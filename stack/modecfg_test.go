package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// TestModeConfigStore: the lease store follows the policy in force. A
// daemon without Mode Config creates no lease file; a gateway with a pool
// opens it at start, leases to its client, and a reload whose pool no
// longer holds the released address forgets that lease.
func TestModeConfigStore(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		plain := t.TempDir()
		n := stacktest.Start(t, stacktest.Policy{Local: "192.0.2.9", Remote: stacktest.HostA, StateDir: plain}, stacktest.Options{Net: nw})
		if _, err := os.Stat(filepath.Join(plain, "leases.db")); err == nil {
			t.Errorf("a daemon without Mode Config made a lease file")
		}
		if ls := n.Ctl(t, control.CmdListLeases, "").Leases; len(ls) != 0 {
			t.Errorf("leases without Mode Config: %+v", ls)
		}

		gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: "-",
			Pools: "rw: {range: 10.99.0.10-10.99.0.19}", ModeConfig: "{pool: rw}"}
		cl := stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: "10.0.0.0/8", RemoteAddress: "198.51.100.0/24",
			ModeConfig: "{request: true}"}
		a, b := stacktest.Pair(t, cl, stacktest.Options{Net: nw}, gw, stacktest.Options{Net: nw})
		b.WaitSAs(t, 2, 10*time.Second)
		if ls := b.Ctl(t, control.CmdListLeases, ""); len(ls.Leases) != 1 || ls.Leases[0].Address != "10.99.0.10" || !ls.Leases[0].Online {
			t.Fatalf("leases: %+v", ls.Leases)
		}
		a.Daemon.Stop()
		stacktest.Wait(t, 10*time.Second, "lease released", func() bool {
			ls := b.Ctl(t, control.CmdListLeases, "").Leases
			return len(ls) == 1 && !ls[0].Online
		}, b)

		conf, err := os.ReadFile(b.Conf)
		if err != nil {
			t.Fatal(err)
		}
		moved := strings.Replace(string(conf), "10.99.0.10-10.99.0.19", "10.99.0.20-10.99.0.29", 1)
		if moved == string(conf) {
			t.Fatalf("pool not found in the policy:\n%s", conf)
		}
		if err := os.WriteFile(b.Conf, []byte(moved), 0o600); err != nil {
			t.Fatal(err)
		}
		b.Ctl(t, control.CmdReload, "")
		if ls := b.Ctl(t, control.CmdListLeases, "").Leases; len(ls) != 0 {
			t.Errorf("a lease outside the reloaded pool is still listed: %+v", ls)
		}
	})
}
