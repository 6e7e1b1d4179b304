package stack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
	"github.com/iked/iked/transaction"
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

// transactionsFrom counts the Transaction messages each host sent,
// retransmissions not counted, and says who sent the first.
func transactionsFrom(nw *stacktest.Net) (n map[string]int, first string) {
	seen := map[string]bool{}
	n = map[string]int{}
	for _, s := range nw.Sent() {
		h, err := isakmp.ParseHeader(s.Data)
		if err != nil || h.Exchange != isakmp.ExchangeTransaction || seen[string(s.Data)] {
			continue
		}
		seen[string(s.Data)] = true
		if first == "" {
			first = s.From.Addr().String()
		}
		n[s.From.Addr().String()]++
	}
	return n, first
}

// TestModeConfigPush: mode-config.push on both sides, without XAUTH.
// The gateway sends its SET right after phase 1, the client asks for
// nothing and acknowledges it (one Transaction message each way), takes
// the pool's first address as its local selector, and the IPsec SAs come
// up. A client that waits for a push from a gateway that never pushes
// gives up after transaction.PushWait with message 46 and no IPsec SA.
func TestModeConfigPush(t *testing.T) {
	gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: "-",
		Pools: "rw: {range: 10.99.0.10-10.99.0.19, dns: [198.51.100.53]}", ModeConfig: "{pool: rw, push: true}"}
	cl := stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: "10.0.0.0/8", RemoteAddress: "198.51.100.0/24",
		ModeConfig: "{request: true, push: true}"}
	t.Run("pushed", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			a, b := stacktest.Pair(t, cl, stacktest.Options{Net: nw}, gw, stacktest.Options{Net: nw})
			a.WaitSAs(t, 2, 10*time.Second)
			b.WaitSAs(t, 2, 10*time.Second)
			if ls := b.Ctl(t, control.CmdListLeases, "").Leases; len(ls) != 1 || ls[0].Address != "10.99.0.10" || !ls[0].Online {
				t.Fatalf("gateway's leases: %+v", ls)
			}
			rs := a.Records(t, "Mode Config address assigned", 0)
			if len(rs) != 1 || rs[0]["address"] != "10.99.0.10" {
				t.Errorf("client's address records %v", rs)
			}
			n, first := transactionsFrom(nw)
			if n[stacktest.HostA] != 1 || n[stacktest.HostB] != 1 || first != stacktest.HostB {
				t.Errorf("Transaction messages %v: first from %s: want the gateway's SET, then the client's ACK only", n, first)
			}
			children := 0
			for _, sa := range a.Ctl(t, control.CmdListSAs, "").SAs {
				for _, ch := range sa.Children {
					children++
					if !strings.HasPrefix(ch.LocalTS, "10.99.0.10") {
						t.Errorf("client's IPsec SA local selector %s, want its pushed address", ch.LocalTS)
					}
				}
			}
			if children == 0 {
				t.Errorf("the client lists no IPsec SA")
			}
		})
	})
	t.Run("never-pushed", func(t *testing.T) {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			pull := gw
			pull.ModeConfig = "{pool: rw}"
			a, b := stacktest.Pair(t, cl, stacktest.Options{Net: nw}, pull, stacktest.Options{Net: nw})
			rs := a.WaitRecord(t, "", 46, transaction.PushWait+30*time.Second)
			if !strings.Contains(fmt.Sprint(rs[0]), "pushed no Mode Config") {
				t.Errorf("client's message 46: %v", rs[0])
			}
			if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
				t.Errorf("%d IPsec SAs installed", n)
			}
		})
	})
}

// TestQuickModeWithoutModeConfig: a road warrior that asks a pool
// gateway for no Mode Config (its policy has no mode-config) and starts
// Quick Mode with its own address is refused: the gateway says so in one
// notice naming the peer and the reason, answers with an
// INVALID-ID-INFORMATION notify (message 52), refuses the retransmissions
// quietly, and no IPsec SA comes up. (iked as that client deletes its
// ISAKMP SA on the error notify: message 51.)
func TestQuickModeWithoutModeConfig(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		gw := stacktest.Policy{Tunnel: true, RoadWarrior: true, LocalAddress: "198.51.100.0/24", RemoteAddress: "-",
			Pools: "rw: {range: 10.99.0.10-10.99.0.19}", ModeConfig: "{pool: rw}"}
		cl := stacktest.Policy{Tunnel: true, Initiate: "start", LocalAddress: stacktest.HostA + "/32", RemoteAddress: "198.51.100.0/24"}
		a, b := stacktest.Pair(t, cl, stacktest.Options{Net: nw}, gw, stacktest.Options{Net: nw})
		rs := b.WaitRecord(t, "Quick Mode refused: the peer asked for no Mode Config address", 0, 10*time.Second)
		time.Sleep(20 * time.Second) // the client's retransmissions, and more Quick Modes
		rs = b.Records(t, "Quick Mode refused: the peer asked for no Mode Config address", 0)
		if len(rs) != 1 || rs[0]["peer"] != stacktest.HostA || rs[0]["level"] != "notice" ||
			!strings.Contains(fmt.Sprint(rs[0]["reason"]), `pool "rw"`) {
			t.Errorf("gateway's notices: %v", rs)
		}
		if sent := b.Records(t, "", 52); len(sent) != 1 || !strings.Contains(fmt.Sprint(sent[0]), "INVALID-ID-INFORMATION") {
			t.Errorf("gateway's message 52: %v", sent)
		}
		if !strings.Contains(a.Log.String(), "INVALID-ID-INFORMATION") {
			t.Errorf("the client did not receive the notify\n%s", a.Log.String())
		}
		if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
			t.Errorf("%d IPsec SAs installed", n)
		}
	})
}
