package phase1

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/iked/iked/isakmp"
)

// TestHalfOpenKeepsNoDatagram: first messages padded with a 30 KB Vendor
// ID make half-open responder SAs. What such an SA keeps of its message
// (the SA payload body for HASH_I/HASH_R; in Aggressive Mode the KE,
// nonce and ID too; the Vendor IDs) must be copies: a sub-slice would keep
// the whole datagram alive for the SA's half-open lifetime. Measured: the
// heap that 64 half-open SAs hold, per SA, after a collection.
func TestHalfOpenKeepsNoDatagram(t *testing.T) {
	const n, pad, limit = 64, 30000, 8 << 10
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			a, b := pskPair(mode)
			pi, pr := policyFor(t, a), policyFor(t, b)
			conn, _ := pi.Connection("c")
			env := testEnv()
			ic := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
			x, st, err := NewInitiator(env, Config{Policy: pi}, conn, ic, addrA, addrB)
			if err != nil {
				t.Fatal(err)
			}
			for st.Work != nil && st.Reject == nil {
				st = x.Resume(env, st.Work())
			}
			m, err := isakmp.Decode(st.Send)
			if err != nil {
				t.Fatal(err)
			}
			m.Payloads = append(m.Payloads, &isakmp.VendorID{Data: bytes.Repeat([]byte{0xa5}, pad)})
			padded, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			sas := make([]*Exchange, n)
			for i := range sas {
				rc := [8]byte{9, byte(i), 1}
				r, rs := NewResponder(env, Config{Policy: pr}, ic, rc, addrB, addrA, bytes.Clone(padded))
				if r == nil || rs.Reject != nil || rs.DeleteSA {
					t.Fatalf("responder refused the first message: %v %v", rs.Reject, rs.Log)
				}
				sas[i] = r
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			t.Logf("%s: %d bytes of heap per half-open SA (first message %d bytes)", mode, per, len(padded))
			if per > limit {
				t.Errorf("a half-open SA holds %d bytes: its %d-byte first message stays alive", per, len(padded))
			}
			s := sas[0].SA
			if len(s.SAiB) == 0 || len(s.VendorIDs) == 0 || (mode == "aggressive" && (len(s.Ni) == 0 || s.RemoteID == nil)) {
				t.Error("the SA kept less than it needs")
			}
			runtime.KeepAlive(sas)
		})
	}
}
