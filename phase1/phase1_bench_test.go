package phase1

import (
	"crypto/rand"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/policymgr"
)

// benchGroups are the Diffie-Hellman groups the phase 1 benchmarks run
// with: MODP 2048 (group 14, RFC 3526, 3) and ECP 256 (group 19, RFC 5903).
var benchGroups = []struct{ name, group string }{
	{"group14", "modp2048"},
	{"group19", "ecp256"},
}

// benchPair loads the two sides' policies for a PSK benchmark of mode
// with AES-128/SHA2-256, through policymgr as the daemon loads them.
func benchPair(b *testing.B, mode, group string) (pi, pr *policymgr.Policy) {
	b.Helper()
	a := side{mode: mode, auth: "psk", psk: "correct horse battery", ciphers: "aes128", hashes: "sha256", groups: group, self: "a"}
	r := a
	r.self = "b"
	return policyFor(b, a), policyFor(b, r)
}

// handshake runs one whole phase 1 in-process (Loopback) without a
// *testing.T, so that a benchmark iteration costs only the negotiation.
// It reports whether both sides established the ISAKMP SA.
func handshake(env Env, pi, pr *policymgr.Policy, conn *policymgr.Connection) bool {
	iEst, rEst, failed := false, false, false
	l := &Loopback{Env: env, Initiator: Config{Policy: pi}, Responder: Config{Policy: pr}, Conn: conn, I: addrA, R: addrB,
		Step: func(isI bool, st daemon.Result) {
			failed = failed || st.DeleteSA || st.Reject != nil
			if isI {
				iEst = iEst || st.Established
			} else {
				rEst = rEst || st.Established
			}
		}}
	rand.Read(l.ICookie[:])
	rand.Read(l.RCookie[:])
	run, err := l.Run()
	return err == nil && run.R != nil && !failed && iEst && rEst
}

// benchHandshakes measures whole phase 1 negotiations of mode: both
// sides' cost (two DH key generations, two shared secrets, the key
// derivation and the four or six messages' encoding and decoding) in one
// goroutine, reported as handshakes/s.
func benchHandshakes(b *testing.B, mode string) {
	for _, g := range benchGroups {
		b.Run(g.name, func(b *testing.B) {
			pi, pr := benchPair(b, mode, g.group)
			conn, ok := pi.Connection("c")
			if !ok {
				b.Fatal("no connection c")
			}
			env := testEnv()
			if !handshake(env, pi, pr, conn) {
				b.Fatal("phase 1 does not establish")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if !handshake(env, pi, pr, conn) {
					b.Fatal("phase 1 did not establish")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkMainModePSK is a whole Main Mode (RFC 2409, 5) with a
// pre-shared key, initiator and responder in process.
func BenchmarkMainModePSK(b *testing.B) { benchHandshakes(b, "main") }

// BenchmarkAggressiveModePSK is a whole Aggressive Mode (RFC 2409, 5)
// with a pre-shared key, initiator and responder in process.
func BenchmarkAggressiveModePSK(b *testing.B) { benchHandshakes(b, "aggressive") }

// BenchmarkResponderMM1 is what a Main Mode first message (RFC 2409, 5,
// HDR, SA) costs the responder: a random responder cookie, the decoding,
// the policy lookup and proposal choice, and MM2. This is the work an
// unauthenticated peer can make the daemon do per datagram, so it is the
// figure that matters against a flood of spoofed MM1s (no DH is done
// before MM3).
func BenchmarkResponderMM1(b *testing.B) {
	for _, g := range benchGroups {
		b.Run(g.name, func(b *testing.B) {
			pi, pr := benchPair(b, "main", g.group)
			conn, _ := pi.Connection("c")
			env := testEnv()
			ic := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
			_, st, err := NewInitiator(env, Config{Policy: pi}, conn, ic, addrA, addrB)
			if err != nil || st.Send == nil || st.Work != nil {
				b.Fatalf("no MM1: %v %+v", err, st)
			}
			mm1 := st.Send
			cfg := Config{Policy: pr}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var rc [8]byte
				rand.Read(rc[:])
				x, st := NewResponder(env, cfg, ic, rc, addrB, addrA, mm1)
				if x == nil || st.Send == nil || st.Work != nil || st.DeleteSA {
					b.Fatalf("MM1 not answered with MM2: %v %v", st.Reject, st.Log)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "MM1/s")
		})
	}
}
