package interop

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongswan/govici/vici"

	"github.com/iked/iked/control"
)

// TestBenchBurst measures, in wall-clock time, one strongSwan charon
// starting N Main Mode PSK ISAKMP SAs (RFC 2409, 5) at once from ONE
// address, as N clients behind one NAT do after an outage, against:
//
//   - iked with its default settings (daemon/admission.go: per-source
//     limits only under load),
//   - iked with the limits lifted (half-open-max and under-load.half-open
//     far above N),
//   - strongSwan's charon as responder, with its per-address half-open
//     limit (charon.block_threshold, 5) lifted: with it, a burst from one
//     address waits for charon's retransmissions.
//
// The initiator has N connections (client-0 ... client-N-1, each with its
// own identity, so that charon does not reuse one IKE SA for them: it
// reuses IKEv1 SAs of equal configurations) and starts them all through
// vici without waiting (initiate, timeout -1, four sessions side by
// side); the figure is the time
// until charon lists N ISAKMP SAs ESTABLISHED, or how many were by the
// deadline. Logging is at the daemons' usual levels (iked info, charon
// 1), not the harness's key-logging levels.
//
// It is a measurement, not a check: it runs only with IKED_BENCH_BURST=1
// (IKED_BENCH_N sets N, default 1000; IKED_BENCH_DEADLINE the wait, default
// 180s) and prints one line per responder. scripts/bench-burst.sh runs it:
//
//	IKED_BENCH_BURST=1 go test ./interop -run TestBenchBurst -v -timeout 30m
func TestBenchBurst(t *testing.T) {
	if os.Getenv("IKED_BENCH_BURST") != "1" {
		t.Skip("a benchmark: set IKED_BENCH_BURST=1 to run it (scripts/bench-burst.sh)")
	}
	RequireStrongSwan(t)
	n := benchN(t, 1000)
	deadline := 180 * time.Second
	if s := os.Getenv("IKED_BENCH_DEADLINE"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			t.Fatalf("IKED_BENCH_DEADLINE=%q: want a duration", s)
		}
		deadline = v
	}
	responders := []string{"iked-default", "iked-lifted", "charon"}
	if s := os.Getenv("IKED_BENCH_RESPONDERS"); s != "" {
		responders = strings.Split(s, ",")
	}
	var summary []string
	for _, r := range responders {
		t.Run(r, func(t *testing.T) {
			line := benchBurst(t, r, n, deadline)
			t.Log(line)
			summary = append(summary, line)
		})
	}
	t.Logf("charon initiating %d Main Mode PSK SAs at once from one address (aes128-sha256-modp2048):\n%s",
		n, strings.Join(summary, "\n"))
}

// benchBurst runs one burst of n against responder and describes it.
func benchBurst(t *testing.T, responder string, n int, deadline time.Duration) string {
	p := NewPair(t)
	psk := randomPSK()
	a, b := p.A.Addr.String(), p.B.Addr.String()
	// charon logs at 1 (its default) rather than the harness's 4: a
	// thousand SAs at 4 measure the log more than the daemon.
	drops := func() string { return "" }
	// Datagrams the kernel dropped for a full socket buffer, per side.
	rcvbuf := func() string {
		return fmt.Sprintf("rcvbuf-errors initiator=%s responder=%s", udpRcvbufErrors(p.A.NS), udpRcvbufErrors(p.B.NS))
	}
	quiet := "  filelog { main { ike = 1\n chd = 1\n cfg = 1\n } }\n  threads = 16"
	switch responder {
	case "iked-default", "iked-lifted":
		pol := IkedPolicy{Listen: b, Debug: "info", Conns: []IkedConn{{
			LocalGW: b, RemoteGW: a, Ciphers: []string{"aes128"}, Hashes: []string{"sha256"},
			Groups: []string{"modp2048"}, PSK: psk, LocalID: "ipv4:" + b,
		}}}
		if responder == "iked-lifted" {
			lim := max(4096, 4*n)
			pol.Daemon = fmt.Sprintf("  half-open-max: %d\n  under-load: {half-open: %d}", lim, lim)
		}
		k := StartIked(t, p.B.NS, pol)
		// What iked dropped, and why (ikectl stats), after the burst.
		drops = func() string {
			r, err := k.Call(control.CmdStats, "")
			if err != nil || r.Stats == nil {
				return fmt.Sprintf("stats: %v", err)
			}
			var out []string
			for _, c := range r.Stats.Dropped {
				if c.Value > 0 {
					out = append(out, fmt.Sprintf("%s=%d", c.Name, c.Value))
				}
			}
			return "iked dropped: " + strings.Join(append(out, ""), " ")
		}
	case "charon":
		rc := StartCharon(t, p.B.NS, CharonOptions{
			Connections: []Connection{{LocalAddrs: b, RemoteAddrs: a, LocalID: b, Proposals: "aes128-sha256-modp2048",
				Unique: "never", Children: []Child{{ESPProposals: "aes128-sha256"}}}},
			Secrets: []Secret{{PSK: []byte(psk)}},
			// charon refuses more than block_threshold (5) half-open
			// SAs per address; lifted, as the figure to compare with.
			Extra: quiet + "\n  block_threshold = 100000",
		})
		if os.Getenv("IKED_BENCH_KEEP") != "" {
			t.Cleanup(func() { os.WriteFile(os.Getenv("IKED_BENCH_KEEP"), []byte(rc.Log()), 0o644) })
		}
	default:
		t.Fatalf("unknown responder %q", responder)
	}
	conns := make([]Connection, n)
	for i := range conns {
		conns[i] = Connection{Name: fmt.Sprintf("client-%d", i), LocalAddrs: a, RemoteAddrs: b,
			LocalID: fmt.Sprintf("client-%d@burst.example", i), RemoteID: b, Proposals: "aes128-sha256-modp2048",
			Unique: "never", Children: []Child{{ESPProposals: "aes128-sha256"}}}
	}
	ini := StartCharon(t, p.A.NS, CharonOptions{Connections: conns, Secrets: []Secret{{PSK: []byte(psk)}}, Extra: quiet})

	// Four vici sessions issue the initiates side by side: one session
	// alone is slower than the responders being measured.
	const sessions = 4
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	start := time.Now()
	for w := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// charon's vici socket has a short backlog: a dial may
			// find it full (EAGAIN) and try again.
			var s *vici.Session
			var err error
			for try := 0; try < 100; try++ {
				if s, err = vici.NewSession(vici.WithSocketPath(ini.ViciPath())); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := w; i < n; i += sessions {
				m := vici.NewMessage()
				if err := m.Set("ike", fmt.Sprintf("client-%d", i)); err != nil {
					errs <- err
					return
				}
				// -1: return at once, do not wait for the SA (vici's initiate).
				if err := m.Set("timeout", "-1"); err != nil {
					errs <- err
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := s.Call(ctx, "initiate", m)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("vici initiate client-%d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	issued := time.Since(start)
	var est, connecting int
	// When half, 90 % and 99 % of them were established: a tail after
	// the 99 % mark is charon's retransmission (4 s) of lost datagrams.
	marks := []int{n / 2, n * 9 / 10, n * 99 / 100}
	var at []string
	for {
		sas, err := ini.ListSAs()
		if err != nil {
			t.Fatal(err)
		}
		est, connecting = 0, 0
		for _, sa := range sas {
			switch sa.State {
			case "ESTABLISHED":
				est++
			case "CONNECTING":
				connecting++
			}
		}
		el := time.Since(start)
		for len(marks) > 0 && est >= marks[0] {
			at = append(at, fmt.Sprintf("%d%%:%.1fs", []int{50, 90, 99}[3-len(marks)], el.Seconds()))
			marks = marks[1:]
		}
		if est >= n {
			return fmt.Sprintf("%-13s %d/%d established in %6.2f s (initiates issued in %.2f s; %s) %s", responder, est, n,
				el.Seconds(), issued.Seconds(), strings.Join(at, " "), rcvbuf()+" "+drops())
		}
		if el > deadline {
			return fmt.Sprintf("%-13s %d/%d established after %6.2f s, %d still connecting: DEADLINE %s", responder, est, n,
				el.Seconds(), connecting, rcvbuf()+" "+drops())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// udpRcvbufErrors reads Udp RcvbufErrors of /proc/net/snmp in ns.
func udpRcvbufErrors(ns *Namespace) string {
	out, err := ns.Run("cat", "/proc/net/snmp")
	if err != nil {
		return "?"
	}
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				return f[i]
			}
		}
	}
	return "?"
}
