package interop

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchN is the number of SAs a benchmark makes: $IKED_BENCH_N, or def.
func benchN(t *testing.T, def int) int {
	t.Helper()
	s := os.Getenv("IKED_BENCH_N")
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 10000 {
		t.Fatalf("IKED_BENCH_N=%q: want 1..10000", s)
	}
	return v
}

// TestBenchAgainstCharon compares, in wall-clock time, strongSwan's charon
// establishing N Main Mode PSK ISAKMP SAs (RFC 2409, 5) one after the
// other against iked as responder, and against another charon as
// responder, on the same kind of veth pair, with groups 14 and 19 and
// AES-128/SHA2-256. Each SA is begun with `swanctl --initiate --ike ike`
// (phase 1 only, no Quick Mode), which returns once charon has the SA
// ESTABLISHED; that call is what is timed, so every figure includes one
// swanctl process and its vici round trip, the same for both responders.
// The SA is then deleted (swanctl --terminate, untimed) and the next one
// waits until the responder has dropped it, so the runs are strictly
// sequential. Both daemons log verbosely (charon ike=4, iked -debug keys)
// because the harness needs those logs; that cost is in both figures.
//
// It is a measurement, not a check of behaviour, and takes about a
// minute: it runs only with IKED_BENCH=1 (IKED_BENCH_N sets N, default 30):
//
//	IKED_BENCH=1 go test ./interop -run TestBenchAgainstCharon -v
func TestBenchAgainstCharon(t *testing.T) {
	if os.Getenv("IKED_BENCH") != "1" {
		t.Skip("a benchmark: set IKED_BENCH=1 to run it")
	}
	RequireStrongSwan(t)
	n := benchN(t, 30)
	var summary []string
	for _, g := range []struct{ name, swan, iked, dh string }{
		{"group14", "aes128-sha256-modp2048", "modp2048", "MODP_2048"},
		{"group19", "aes128-sha256-ecp256", "ecp256", "ECP_256"},
	} {
		for _, responder := range []string{"iked", "charon"} {
			name := g.name + "/" + responder
			t.Run(name, func(t *testing.T) {
				d := benchSequential(t, responder, g.swan, g.iked, g.dh, n)
				line := benchLine(name, d)
				t.Log(line)
				summary = append(summary, line)
			})
		}
	}
	t.Logf("charon initiating %d Main Mode PSK SAs sequentially (wall time of swanctl --initiate --ike):\n%s",
		n, strings.Join(summary, "\n"))
}

// benchSequential sets up a pair, charon initiating on A and responder
// ("iked" or "charon") on B, and returns the time of each of n
// establishments after one untimed warm-up. Each SA must be Main Mode with
// DH group dh, as charon's list-sas reports it.
func benchSequential(t *testing.T, responder, swanProp, ikedGroup, dh string, n int) []time.Duration {
	p := NewPair(t)
	psk := randomPSK()
	a, b := p.A.Addr.String(), p.B.Addr.String()
	conn := Connection{
		LocalAddrs: a, RemoteAddrs: b, LocalID: a, RemoteID: b, Proposals: swanProp,
		Children: []Child{{ESPProposals: "aes128-sha256"}},
	}
	opt := CharonOptions{
		Connections:       []Connection{conn},
		Secrets:           []Secret{{IDs: []string{a, b}, PSK: []byte(psk)}},
		RetransmitTimeout: time.Second, RetransmitTries: 4,
	}
	// responderHas reports whether the responder still holds an SA.
	var responderHas func() (bool, error)
	switch responder {
	case "iked":
		k := StartIked(t, p.B.NS, IkedPolicy{Listen: b, Conns: []IkedConn{{
			LocalGW: b, RemoteGW: a, Ciphers: []string{"aes128"}, Hashes: []string{"sha256"},
			Groups: []string{ikedGroup}, PSK: psk, LocalID: "ipv4:" + b, RemoteID: "ipv4:" + a,
		}}})
		responderHas = func() (bool, error) {
			sas, err := k.ListSAs()
			return len(sas) > 0, err
		}
	case "charon":
		ro := opt
		rc := conn
		rc.LocalAddrs, rc.RemoteAddrs, rc.LocalID, rc.RemoteID = b, a, b, a
		ro.Connections = []Connection{rc}
		r := StartCharon(t, p.B.NS, ro)
		responderHas = func() (bool, error) {
			sas, err := r.ListSAs()
			return len(sas) > 0, err
		}
	}
	ini := StartCharon(t, p.A.NS, opt)
	one := func(i int) time.Duration {
		start := time.Now()
		out, err := ini.Swanctl("--initiate", "--ike", "ike", "--timeout", "20")
		d := time.Since(start)
		if err != nil {
			t.Fatalf("SA %d: swanctl --initiate: %v\n%s\ncharon log:\n%s", i, err, out, ini.Tail(40))
		}
		sa, err := ini.WaitIKE("ike", "ESTABLISHED", 5*time.Second)
		if err != nil {
			t.Fatalf("SA %d: %v", i, err)
		}
		if sa.DHGroup != dh || sa.EncrAlg != "AES_CBC" || sa.PRFAlg != "PRF_HMAC_SHA2_256" {
			t.Fatalf("SA %d: charon negotiated %s %s %s, want AES_CBC PRF_HMAC_SHA2_256 %s", i, sa.EncrAlg, sa.PRFAlg, sa.DHGroup, dh)
		}
		if out, err := ini.Swanctl("--terminate", "--ike", "ike", "--timeout", "10"); err != nil {
			t.Fatalf("SA %d: swanctl --terminate: %v\n%s", i, err, out)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			has, err := responderHas()
			if err != nil {
				t.Fatalf("SA %d: responder: %v", i, err)
			}
			if !has {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SA %d: the %s responder still holds an SA 10 s after the Delete", i, responder)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return d
	}
	one(-1)
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = one(i)
	}
	return ds
}

// benchLine summarises the durations: mean, median, min, max, SAs/s.
func benchLine(name string, ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	mean := sum / time.Duration(len(s))
	return fmt.Sprintf("%-16s n=%d mean %v median %v min %v max %v (%.1f SAs/s)", name, len(s),
		mean.Round(10*time.Microsecond), s[len(s)/2].Round(10*time.Microsecond),
		s[0].Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond), float64(time.Second)/float64(mean))
}
