package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// Catalog messages in their own situations, with the wiring iked runs
// (stack/stacktest): the test makes the situation arise between daemons
// on daemontest's in-memory network, in virtual time, and reads the exact
// text from the node's JSON log. notify/testdata/coverage.md lists the
// test of every message.

// texts returns the texts a node logged as catalog message num.
func texts(t *testing.T, n *stacktest.Node, num int) []string {
	t.Helper()
	var out []string
	for _, r := range n.Records(t, "", num) {
		out = append(out, fmt.Sprint(r["msg"]))
	}
	return out
}

// wantText waits until the node logged message num with exactly want as
// its text, and returns that record.
func wantText(t *testing.T, n *stacktest.Node, num int, want string, limit time.Duration) map[string]any {
	t.Helper()
	var rec map[string]any
	stacktest.Wait(t, limit, fmt.Sprintf("message %d %q", num, want), func() bool {
		for _, r := range n.Records(t, "", num) {
			if r["msg"] == want {
				rec = r
				return true
			}
		}
		return false
	}, n)
	return rec
}

// reloadWith rewrites the node's policy file with the daemon section of
// a stacktest policy for local and the given connections, and reloads
// it, as SIGHUP does.
func reloadWith(t *testing.T, n *stacktest.Node, local, conns string) {
	t.Helper()
	file := n.Daemon.Control(control.Request{Command: control.CmdStatus}).Status.PolicyFile
	text := stacktest.Policy{Local: local, Remote: "192.0.2.254"}.YAML(n.Socket)
	text = text[:strings.Index(text, "connections:\n")] + "connections:\n" + conns
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if msgs, ok := n.Daemon.Reload(); !ok {
		t.Fatalf("reload refused: %v\n%s", msgs, n.Log.String())
	}
}

func initiate(t *testing.T, n *stacktest.Node) { n.Ctl(t, control.CmdInitiate, "link") }

// TestCatalog55RemoteNotAddress: `ikectl initiate` of a connection whose
// peer is a DNS name that does not resolve, and of a road warrior
// connection (any peer), logs message 55 and gives its text as ikectl's
// answer.
func TestCatalog55RemoteNotAddress(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB}, stacktest.Options{Net: nw})
		reloadWith(t, a, "192.0.2.1", `  by-name:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    local-gw: 192.0.2.1
    remote-gw: gw.iked-test.invalid
    ike: {mode: main, transforms: [ike], auth: psk, psk: "catalog test key"}
    proposal-list: qm
  warriors:
    local-address: 198.51.100.0/24
    local-gw: 192.0.2.1
    remote-gw: any
    ike: {mode: main, transforms: [ike], auth: psk, psk: "catalog test key"}
    proposal-list: qm
`)
		want := "The Phase-1 remote id is not an IP-address, check the peer/gw address."
		for i, conn := range []string{"by-name", "warriors"} {
			resp := a.Daemon.Control(control.Request{Command: control.CmdInitiate, Name: conn})
			if resp.Error != want {
				t.Errorf("initiate %s: ikectl says %q, want %q", conn, resp.Error, want)
			}
			rs := a.Records(t, "", 55)
			if len(rs) != i+1 || rs[i]["msg"] != want || rs[i]["level"] != "notice" || rs[i]["conn"] != conn {
				t.Fatalf("initiate %s: message 55 records %v\n%s", conn, rs, a.Log.String())
			}
		}
	})
}

// TestCatalog53NoPolicyAfterReload: B's policy is reloaded with a file
// that has no connection; A's Main Mode then finds no security policy at
// B (message 53, not 54, which says no connection matches this peer).
func TestCatalog53NoPolicyAfterReload(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: stacktest.HostA}, stacktest.Options{Net: nw})
		reloadWith(t, b, "192.0.2.2", "  {}\n")
		if cs := b.Ctl(t, control.CmdListConns, "").Conns; len(cs) != 0 {
			t.Fatalf("after the reload B lists %v", cs)
		}
		a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB}, stacktest.Options{Net: nw})
		initiate(t, a)
		wantText(t, b, 53, "SPD: Phase-1 policy; No security policy available.", 5*time.Second)
		if rs := b.Records(t, "", 54); len(rs) != 0 {
			t.Errorf("B logged message 54 too: %v", rs)
		}
	})
}

// TestCatalog54UnknownPeer: B has a connection for another peer only. A's
// Main Mode finds no policy at B (54, 46, and 52 for the notify B sends);
// A reads B's notify (48) and gives up (51).
func TestCatalog54UnknownPeer(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: "192.0.2.9"}, stacktest.Options{Net: nw})
		a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB}, stacktest.Options{Net: nw})
		initiate(t, a)
		wantText(t, b, 54, "SPD rejected conn using selectors 192.0.2.2 <-> 192.0.2.1", 5*time.Second)
		wantText(t, b, 46, "Phase-1 [responder] between 192.0.2.2 and 192.0.2.1 failed; no policy for this peer", time.Second)
		wantText(t, b, 52, "Sending notification to 192.0.2.1 : NO-PROPOSAL-CHOSEN", time.Second)
		wantText(t, a, 51, "Received error notify from 192.0.2.2 : NO-PROPOSAL-CHOSEN. Deleting ISAKMP SA.", 5*time.Second)
		n48 := regexp.MustCompile(`^Phase-1 notify NO-PROPOSAL-CHOSEN "\(size 0 bytes\) from 192\.0\.2\.2:500 for protocol=1 spi\(16\)=0x[0-9a-f]{32}"$`)
		if got := texts(t, a, 48); len(got) != 1 || !n48.MatchString(got[0]) {
			t.Errorf("A's message 48: %q, want one matching %s", got, n48)
		}
	})
}

// TestCatalogPeerPortPhase1: two nodes on IKE port 1500; B has no
// connection for A and refuses its phase 1: B logs 52, A logs 51, each
// naming the other as address[1500].
func TestCatalogPeerPortPhase1(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: "192.0.2.9", IKEPort: 1500}, stacktest.Options{Net: nw})
		a := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, IKEPort: 1500}, stacktest.Options{Net: nw})
		initiate(t, a)
		wantText(t, b, 52, "Sending notification to 192.0.2.1[1500] : NO-PROPOSAL-CHOSEN", 5*time.Second)
		wantText(t, a, 51, "Received error notify from 192.0.2.2[1500] : NO-PROPOSAL-CHOSEN. Deleting ISAKMP SA.", 5*time.Second)
	})
}

// TestCatalogPeerPortQuickMode: two nodes on IKE port 1500 whose ESP
// ciphers differ. B refuses A's Quick Mode: B logs 52 and A logs 60 for
// B's notify, each naming the other as address[1500].
func TestCatalogPeerPortQuickMode(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := stacktest.Pair(t, stacktest.Policy{IKEPort: 1500}, stacktest.Options{Net: nw},
			stacktest.Policy{IKEPort: 1500, ESP: "ciphers: [aes256], hmacs: [sha256]"}, stacktest.Options{Net: nw})
		initiate(t, a)
		wantText(t, b, 52, "Sending notification to 192.0.2.1[1500] : NO-PROPOSAL-CHOSEN", 30*time.Second)
		a.WaitRecord(t, "", 60, 5*time.Second)
		qm := regexp.MustCompile(`^QM notification 14 \(NO-PROPOSAL-CHOSEN\) \(size 0 bytes\) from 192\.0\.2\.2\[1500\] for protocol=3 spi\(4\)=0x[0-9a-f]{8}$`)
		if got := texts(t, a, 60); len(got) != 1 || !qm.MatchString(got[0]) {
			t.Errorf("A's message 60: %q, want one matching %s", got, qm)
		}
	})
}

// TestCatalogResponderLifetime: B's connection has a shorter phase 2
// lifetime than A proposes. B answers with RESPONDER-LIFETIME, which
// changes the negotiation (message 52 on B); A adopts it and logs 61 at
// warning, the level of every lifetime adjustment.
func TestCatalogResponderLifetime(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := stacktest.Pair(t, stacktest.Policy{Lifetime: "2h"}, stacktest.Options{Net: nw},
			stacktest.Policy{Lifetime: "1h"}, stacktest.Options{Net: nw})
		initiate(t, a)
		wantText(t, b, 52, "Sending notification to 192.0.2.1 : RESPONDER-LIFETIME", 30*time.Second)
		r := wantText(t, a, 61, `Received responder lifetime notification: "life_secs=3600, life_kbytes=0`, 5*time.Second)
		if r["level"] != "warning" {
			t.Errorf("message 61 at %v, want warning", r["level"])
		}
	})
}

// TestCatalogOrdinaryDeleteIsNot52: `ikectl terminate` and shutdown send
// Deletes, which end SAs in the ordinary way: each is logged as the
// Delete it is (the peer, protocol[spi] of each SA), never as message 52,
// which is for notifications that refuse or change a negotiation. Nor is
// the INITIAL-CONTACT of A's first SA (inside its MM5): neither log holds a
// 52 at all.
func TestCatalogOrdinaryDeleteIsNot52(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := stacktest.Pair(t, stacktest.Policy{}, stacktest.Options{Net: nw}, stacktest.Policy{}, stacktest.Options{Net: nw})
		checkDeletes := func(who string, n *stacktest.Node, peer string) {
			t.Helper()
			rs := n.WaitRecord(t, "sending Delete", 0, 5*time.Second)
			last := rs[len(rs)-1]
			sas := fmt.Sprint(last["sas"])
			if last["peer"] != peer || !strings.Contains(sas, "ISAKMP[0x") || !strings.Contains(sas, "ESP[0x") {
				t.Errorf("%s: Delete line %v", who, last)
			}
			if got := texts(t, n, 52); len(got) != 0 {
				t.Errorf("%s logged message 52 for a Delete: %q", who, got)
			}
		}

		// terminate
		initiate(t, a)
		a.WaitSAs(t, 2, 30*time.Second)
		a.Ctl(t, control.CmdTerminate, "link")
		checkDeletes("A on terminate", a, "192.0.2.2")
		b.WaitRecord(t, "", 62, 5*time.Second)

		// shutdown
		initiate(t, a)
		b.WaitSAs(t, 2, 30*time.Second)
		b.Daemon.Stop()
		checkDeletes("B on shutdown", b, "192.0.2.1")
	})
}

// TestCatalog5ReloadOnly: an unreadable policy file is message 5 on a
// reload (the running policy stays), but at start-up, where there is no
// running policy, it is an error and message 21, as `iked -check` says.
func TestCatalog5ReloadOnly(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: stacktest.HostA}, stacktest.Options{Net: nw})
		file := b.Ctl(t, control.CmdStatus, "").Status.PolicyFile
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		if _, ok := b.Daemon.Reload(); ok {
			t.Fatal("a reload of a missing file succeeded")
		}
		wantText(t, b, 5, "Could not read configuration file `"+file+"': not reconfiguring", time.Second)
		if cs := b.Ctl(t, control.CmdListConns, "").Conns; len(cs) != 1 {
			t.Errorf("the running policy did not stay: %v", cs)
		}

		out := startRefused(t, file)
		if strings.Contains(out, "Could not read configuration file") || !strings.Contains(out, `"msg":"cannot read the policy file"`) ||
			!strings.Contains(out, `"msg":"SPD: Policy not instantiated due to errors.","catalog":21`) {
			t.Errorf("start-up without a policy file logged:\n%s", out)
		}
	})
}
