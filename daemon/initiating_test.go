package daemon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// TestInitiatePaced: a host with many `initiate: start` connections to
// two peers initiates them a few at a time (daemon.initiate-max in all,
// daemon.initiate-per-peer with one peer), not all at once, and every one
// comes up. Each look at A's SA table (list-sas, answered on the loop
// between two events) finds no more unfinished phase 1 initiations than
// the limits allow; without the pacing the first look finds all of them.
// In virtual time over daemontest's network.
func TestInitiatePaced(t *testing.T) {
	const perPeer, max, conns = 2, 3, 12
	const hostC = "192.0.2.3"
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		peers := map[string]string{stacktest.HostB: "203.0.113", hostC: "198.51.100"}
		var resp []*stacktest.Node
		for _, gw := range []string{stacktest.HostB, hostC} {
			resp = append(resp, stacktest.Start(t, stacktest.Policy{Local: gw, Remote: stacktest.HostA, Tunnel: true,
				LocalAddress: peers[gw] + ".0/24", RemoteAddress: "10.1.0.0/16", LogLevel: "info"}, stacktest.Options{Net: nw}))
		}
		a := stacktest.StartYAML(t, func(sock string) string {
			var b strings.Builder
			fmt.Fprintf(&b, "daemon:\n  listen: [%q]\n  natt-port: 0\n  engine: none\n  control-socket: %s\n", stacktest.HostA, sock)
			fmt.Fprintf(&b, "  initiate-max: %d\n  initiate-per-peer: %d\n  retransmit: {timeout: 500ms, tries: 3}\n", max, perPeer)
			b.WriteString("  log: {level: info, format: json}\n")
			b.WriteString("transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}\n")
			b.WriteString("  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\nconnections:\n")
			for i := range conns {
				gw := stacktest.HostB
				if i%2 == 1 {
					gw = hostC
				}
				fmt.Fprintf(&b, "  c%d:\n    local-address: 10.1.0.0/16\n    remote-address: %s.%d/32\n", i, peers[gw], i)
				fmt.Fprintf(&b, "    local-gw: %s\n    remote-gw: %s\n    initiate: start\n    proposal-list: qm\n", stacktest.HostA, gw)
				fmt.Fprintf(&b, "    ike: {transforms: [ike], psk: \"stacktest key\", local-id: \"fqdn:c%d.example.com\"}\n", i)
			}
			return b.String()
		}, stacktest.Options{Net: nw})
		looks := 0
		stacktest.Wait(t, 10*time.Minute, "every connection established", func() bool {
			sas := a.Ctl(t, control.CmdListSAs, "").SAs
			looks++
			open, byPeer, up := 0, map[string]int{}, 0
			for _, sa := range sas {
				switch {
				case sa.Established:
					up++
				case sa.Role == "initiator":
					open++
					byPeer[strings.Split(sa.Remote, ":")[0]]++
				}
			}
			if open > max {
				t.Fatalf("look %d: %d phase 1 initiations under way, want at most %d: %+v", looks, open, max, sas)
			}
			for p, n := range byPeer {
				if n > perPeer {
					t.Fatalf("look %d: %d phase 1 initiations under way with %s, want at most %d", looks, n, p, perPeer)
				}
			}
			return up == conns && len(a.Engine.SAs()) == 2*conns
		}, append([]*stacktest.Node{a}, resp...)...)
		if n := len(a.Records(t, "IPsec SA established", 0)); n != conns {
			t.Errorf("%d IPsec SA bundles established, want %d", n, conns)
		}
		if n := len(a.Records(t, "", 46)); n != 0 {
			t.Errorf("%d phase 1 failures (message 46):\n%s", n, a.Log.String())
		}
	})
}
