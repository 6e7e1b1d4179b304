package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/daemon/udp"
	"github.com/iked/iked/stack/stacktest"
)

// base is a run from stacktest's HostA to an iked responder on HostB
// (stacktest's policy: Main Mode, PSK, aes128-sha256-modp2048).
func base() Config {
	return Config{
		Targets: []netip.Addr{netip.MustParseAddr(stacktest.HostB)}, Port: 500,
		Sources: []netip.Addr{netip.MustParseAddr(stacktest.HostA)}, SourcePort: 500, Ports: 1,
		Total: 12, Concurrency: 4, Mode: "main", Auth: "psk", PSK: "stacktest key",
		Ciphers: []string{"aes128"}, Hashes: []string{"sha256"}, Groups: []string{"modp2048"},
		QuickMode: true, ESPCiphers: []string{"aes128"}, ESPMAC: []string{"sha256"},
		Retransmit: 500 * time.Millisecond, Tries: 3, Allow: mustPrefixes(defaultAllow), Workers: 1,
	}
}

func mustPrefixes(ss []string) []netip.Prefix {
	p, err := parsePrefixes(strings.Join(ss, ","))
	if err != nil {
		panic(err)
	}
	return p
}

// responder starts iked (stacktest, the production wiring) on HostB,
// answering HostA.
func responder(t *testing.T, nw *stacktest.Net, p stacktest.Policy) *stacktest.Node {
	p.Local, p.Remote = stacktest.HostB, stacktest.HostA
	if p.LogLevel == "" {
		p.LogLevel = "info"
	}
	return stacktest.Start(t, p, stacktest.Options{Net: nw})
}

// TestLoadAgainstIked runs ikeload against an in-process iked responder
// on the in-memory network: every SA pair is established (both the
// ISAKMP SA and its Quick Mode bundle, which the responder's engine
// holds), from one port and from three ports of one address, as
// clients behind a NAT look.
func TestLoadAgainstIked(t *testing.T) {
	for _, ports := range []int{1, 3} {
		stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
			r := responder(t, nw, stacktest.Policy{})
			cfg := base()
			cfg.Ports = ports
			rep, err := Run(context.Background(), cfg, Options{Network: nw})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Established != cfg.Total || rep.Failed != 0 || len(rep.Failures) != 0 {
				t.Fatalf("ports %d: %+v\nresponder:\n%s", ports, rep, r.Log.String())
			}
			// The responder holds one bundle (inbound and outbound SA) per
			// pair; ikeload stopped its daemons, whose Deletes took the
			// ISAKMP SAs and bundles away again.
			if n := len(r.Records(t, "IPsec SA established", 0)); n != cfg.Total {
				t.Fatalf("ports %d: responder established %d bundles, want %d", ports, n, cfg.Total)
			}
			peers := map[string]bool{}
			for _, rec := range r.Records(t, "ISAKMP SA established", 0) {
				peers[rec["remote"].(string)] = true
			}
			if len(peers) != ports {
				t.Fatalf("responder saw peers %v, want %d ports of %s", peers, ports, stacktest.HostA)
			}
			if rep.Latency.P50 <= 0 && rep.Latency.Max < 0 {
				t.Fatalf("latency %+v", rep.Latency)
			}
		})
	}
}

// TestLoadPhase1Only: with -qm=false no Quick Mode is begun.
func TestLoadPhase1Only(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		r := responder(t, nw, stacktest.Policy{})
		cfg := base()
		cfg.QuickMode = false
		cfg.Mode = "main"
		rep, err := Run(context.Background(), cfg, Options{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Established != cfg.Total || rep.Failed != 0 {
			t.Fatalf("%+v", rep)
		}
		if n := len(r.Records(t, "IPsec SA established", 0)); n != 0 {
			t.Fatalf("responder established %d bundles without Quick Mode", n)
		}
	})
}

// TestLoadAggressive runs Aggressive Mode against a responder that
// expects it.
func TestLoadAggressive(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		r := responder(t, nw, stacktest.Policy{Mode: "aggressive"})
		cfg := base()
		cfg.Mode = "aggressive"
		rep, err := Run(context.Background(), cfg, Options{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Established != cfg.Total || rep.Failed != 0 {
			t.Fatalf("%+v\n%s", rep, r.Log.String())
		}
	})
}

// TestLoadFailures counts failures by reason: the responder's notify for
// a group it does not accept, a timeout for a target that never answers.
func TestLoadFailures(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		responder(t, nw, stacktest.Policy{})
		cfg := base()
		cfg.Groups = []string{"ecp256"}
		cfg.Total = 3
		rep, err := Run(context.Background(), cfg, Options{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Established != 0 || rep.Failed != 3 || rep.Failures["notify NO-PROPOSAL-CHOSEN"] != 3 {
			t.Fatalf("wrong group: %+v", rep)
		}
	})
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		cfg := base() // nobody on HostB
		cfg.Total = 2
		rep, err := Run(context.Background(), cfg, Options{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Established != 0 || rep.Failures["timeout (phase 1)"] != 2 {
			t.Fatalf("no responder: %+v", rep)
		}
	})
}

// TestLoadRefusesOutside: a target outside -allow is refused before
// anything is bound, and the sockets refuse any other destination.
func TestLoadRefusesOutside(t *testing.T) {
	cfg := base()
	cfg.Targets = []netip.Addr{netip.MustParseAddr("10.1.2.3")}
	if _, err := Run(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("target 10.1.2.3: %v", err)
	}
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		g := &guardNet{inner: nw, targets: map[netip.Addr]bool{netip.MustParseAddr(stacktest.HostB): true}, port: 500}
		pc, err := g.ListenUDP(netip.MustParseAddrPort(stacktest.HostA + ":500"))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		err = pc.WriteDatagram(udpTo("192.0.2.77:500"))
		if err == nil || g.refused.Load() != 1 || nw.Count(func(daemontest.Sent) bool { return true }) != 0 {
			t.Fatalf("send to a non-target: err %v, refused %d, on the wire %d", err, g.refused.Load(), nw.Count(func(daemontest.Sent) bool { return true }))
		}
		// A socket that sends in batches (the system's, daemon/outbox.go)
		// is still guarded: the guard offers the daemon no way around
		// its WriteDatagram.
		nw.Batching = true
		bc, err := g.ListenUDP(netip.MustParseAddrPort(stacktest.HostA + ":4500"))
		if err != nil {
			t.Fatal(err)
		}
		defer bc.Close()
		if _, ok := bc.(interface {
			WriteDatagrams([]udp.Datagram) (int, error)
		}); ok {
			t.Fatal("the guarded socket sends batches past the guard")
		}
	})
}

func udpTo(addr string) udp.Datagram {
	return udp.Datagram{Data: []byte("x"), Remote: netip.MustParseAddrPort(addr)}
}

func TestParseAddrs(t *testing.T) {
	got, err := parseAddrs("192.0.2.1, 192.0.2.10-192.0.2.12,198.51.100.0/30", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := "192.0.2.1 192.0.2.10 192.0.2.11 192.0.2.12 198.51.100.0 198.51.100.1 198.51.100.2 198.51.100.3"
	if s := strings.Join(addrStrings(got), " "); s != want {
		t.Fatalf("got %s", s)
	}
	if _, err := parseAddrs("10.0.0.0/8", 1000); err == nil {
		t.Fatal("a /8 passed a limit of 1000")
	}
	if _, err := parseAddrs("192.0.2.9-192.0.2.1", 10); err == nil {
		t.Fatal("a backwards range passed")
	}
}

// TestLoadDuration: a soak run begins SAs at -rate until -duration ends,
// with no count limit, and -delete deletes each once it is done, so that
// the responder holds none when the run ends.
func TestLoadDuration(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		r := responder(t, nw, stacktest.Policy{})
		cfg := base()
		cfg.Total, cfg.Duration, cfg.Rate, cfg.Delete, cfg.Hold = 0, 3100*time.Millisecond, 4, true, time.Second
		removed := -1
		// While ikeload holds its SAs (none, with -delete), before it stops.
		holding := func() {
			time.Sleep(100 * time.Millisecond)
			removed = len(r.Records(t, "ISAKMP SA removed", 0))
		}
		rep, err := Run(context.Background(), cfg, Options{Network: nw, Holding: holding})
		if err != nil {
			t.Fatal(err)
		}
		// 4 per second for 3.1 s: the first at 0 s, the thirteenth at 3 s.
		if rep.Begun != 13 || rep.Established != 13 || rep.Failed != 0 {
			t.Fatalf("%+v", rep)
		}
		if rep.Seconds < 2.9 || rep.Seconds > 4 || rep.Rate > 4.5 {
			t.Fatalf("the run took %.2f s at %.1f SAs/s, want about 3 s at 4/s", rep.Seconds, rep.Rate)
		}
		if removed != 13 {
			t.Fatalf("responder removed %d ISAKMP SAs before ikeload stopped, want 13 (-delete)", removed)
		}
	})
}

// TestLoadHalfOpen: with -half-open only MM1 goes out; the responder
// answers it (the MM3 each daemon then tries is withheld) and
// establishes nothing, and every SA counts as a phase 1 timeout.
func TestLoadHalfOpen(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		r := responder(t, nw, stacktest.Policy{})
		cfg := base()
		cfg.HalfOpen = true
		cfg.Tries = 1
		rep, err := Run(context.Background(), cfg, Options{Network: nw})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Established != 0 || rep.Failed != cfg.Total || rep.Failures["timeout (phase 1)"] != cfg.Total {
			t.Fatalf("%+v", rep)
		}
		// One MM3 per SA at least: each responder answered its MM1.
		if rep.Withheld < uint64(cfg.Total) {
			t.Fatalf("withheld %d datagrams, want at least %d MM3s", rep.Withheld, cfg.Total)
		}
		if n := len(r.Records(t, "ISAKMP SA established", 0)); n != 0 {
			t.Fatalf("responder established %d ISAKMP SAs", n)
		}
	})
}
