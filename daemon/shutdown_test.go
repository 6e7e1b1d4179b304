package daemon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/stack/stacktest"
)

// TestShutdownFlushes: a responder holding more IPsec SA bundles than its
// engine queue has entries stops: it sends each peer its Deletes, but
// queues no per-SA engine delete (the engine's Detach flushes everything
// it installed, as a kernel engine's flush does), so no queue message
// (68-70) is logged, and its engine holds nothing afterwards. Without
// that, the deletes of a large shutdown overflowed the queue (message 70
// per delete). In virtual time over daemontest's network.
func TestShutdownFlushes(t *testing.T) {
	const conns, queue = 40, 16
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := stacktest.Start(t, stacktest.Policy{Local: stacktest.HostB, Remote: stacktest.HostA, Tunnel: true,
			LocalAddress: "203.0.113.0/24", RemoteAddress: "10.1.0.0/16", LogLevel: "info"},
			stacktest.Options{Net: nw, EngineQueue: queue})
		a := stacktest.StartYAML(t, func(sock string) string {
			var s strings.Builder
			fmt.Fprintf(&s, "daemon:\n  listen: [%q]\n  natt-port: 0\n  engine: none\n  control-socket: %s\n", stacktest.HostA, sock)
			s.WriteString("  initiate-max: 1\n  log: {level: info, format: json}\n")
			s.WriteString("transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}\n")
			s.WriteString("  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\nconnections:\n")
			for i := range conns {
				fmt.Fprintf(&s, "  c%d:\n    local-address: 10.1.0.0/16\n    remote-address: 203.0.113.%d/32\n", i, i)
				fmt.Fprintf(&s, "    local-gw: %s\n    remote-gw: %s\n    initiate: start\n    proposal-list: qm\n", stacktest.HostA, stacktest.HostB)
				fmt.Fprintf(&s, "    ike: {transforms: [ike], psk: \"stacktest key\", local-id: \"fqdn:c%d.example.com\"}\n", i)
			}
			return s.String()
		}, stacktest.Options{Net: nw})
		stacktest.Wait(t, 10*time.Minute, "every connection established", func() bool {
			return len(b.Engine.SAs()) == 2*conns && len(a.Engine.SAs()) == 2*conns
		}, a, b)
		if n := len(b.Ctl(t, control.CmdListSAs, "").SAs); n != conns {
			t.Fatalf("responder holds %d ISAKMP SAs, want %d", n, conns)
		}
		b.Daemon.Stop()
		for _, num := range []int{68, 69, 70} {
			if n := len(b.Records(t, "", num)); n != 0 {
				t.Errorf("%d engine queue messages %d at shutdown:\n%s", n, num, b.Log.String())
			}
		}
		if n := len(b.Engine.SAs()); n != 0 {
			t.Errorf("responder's engine holds %d SAs after the stop", n)
		}
		if r := b.Records(t, "ISAKMP SAs deleted at shutdown", 0); len(r) != 1 || r[0]["count"] != float64(conns) {
			t.Errorf("shutdown record %v, want one with count %d", r, conns)
		}
		// The peer heard every Delete: its bundles go with them.
		stacktest.Wait(t, time.Minute, "the initiator's bundles deleted", func() bool {
			return len(a.Engine.SAs()) == 0
		}, a)
	})
}
