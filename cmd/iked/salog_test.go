package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/stack/stacktest"
)

// Tests of what an operator reads about ISAKMP SAs at info level, with
// the wiring iked runs: the established line (phase1.SALog), the removal
// line (daemon), and message 46 for a half-open SA (phase1.HalfOpen).

// TestEstablishedLine: A initiates Main Mode with B. Each logs one
// "ISAKMP SA established" at info naming the connection, its role, the
// mode, both ends with ports, both identities, the transform, lifetime
// and cookies, and nothing else: neither the PSK nor a key logged at the
// keys level appears in it. `ikectl terminate` on A then logs "ISAKMP SA
// removed" with the reason on both sides.
func TestEstablishedLine(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		o := childOpts{mode: "main", psk: "established line key", ikeLifetime: "3h"}
		ob, oa := o, o
		ob.localID, oa.localID = "fqdn:b.example", "fqdn:a.example"
		a, b := childPair(t, nw, "start", oa, ob)
		ra := a.WaitRecord(t, "ISAKMP SA established", 0, 30*time.Second)
		rb := b.WaitRecord(t, "ISAKMP SA established", 0, 5*time.Second)
		if len(ra) != 1 || len(rb) != 1 {
			t.Fatalf("established lines: A %d, B %d, want 1 each", len(ra), len(rb))
		}
		check := func(who string, r map[string]any, want map[string]any, keys []string) {
			t.Helper()
			fields := []string{}
			for k := range r {
				fields = append(fields, k)
			}
			slices.Sort(fields)
			wantFields := []string{"auth", "cipher", "conn", "cookies", "event", "group", "hash", "level", "lifetime-seconds",
				"local", "local-id", "mode", "msg", "remote", "remote-id", "role", "time"}
			if !slices.Equal(fields, wantFields) {
				t.Errorf("%s: fields %v, want %v", who, fields, wantFields)
			}
			for k, v := range want {
				if fmt.Sprint(r[k]) != fmt.Sprint(v) {
					t.Errorf("%s: %s = %v, want %v", who, k, r[k], v)
				}
			}
			line, _ := json.Marshal(r)
			if strings.Contains(string(line), o.psk) {
				t.Errorf("%s: the PSK is in the line: %s", who, line)
			}
			if len(keys) == 0 {
				t.Errorf("%s: no keys logged at the keys level to compare with", who)
			}
			for _, k := range keys {
				if strings.Contains(strings.ToLower(string(line)), strings.ToLower(k)) {
					t.Errorf("%s: key material %s in the line: %s", who, k, line)
				}
			}
		}
		common := map[string]any{"conn": "link", "mode": "Main", "level": "info", "cipher": "AES-CBC_128",
			"hash": "SHA2-256", "group": "2048-bit MODP group", "auth": "pre-shared key", "lifetime-seconds": 10800}
		wa := map[string]any{"role": "initiator", "local": "192.0.2.1[500]", "remote": "192.0.2.2[500]",
			"local-id": "a.example", "remote-id": "b.example"}
		wb := map[string]any{"role": "responder", "local": "192.0.2.2[500]", "remote": "192.0.2.1[500]",
			"local-id": "b.example", "remote-id": "a.example"}
		for k, v := range common {
			wa[k], wb[k] = v, v
		}
		check("A", ra[0], wa, hexKeys(t, a))
		check("B", rb[0], wb, hexKeys(t, b))
		if ra[0]["cookies"] != rb[0]["cookies"] || len(fmt.Sprint(ra[0]["cookies"])) != 33 {
			t.Errorf("cookies: A %v, B %v", ra[0]["cookies"], rb[0]["cookies"])
		}

		a.Daemon.Control(control.Request{Command: control.CmdTerminate, Name: "link"})
		ga := a.WaitRecord(t, "ISAKMP SA removed", 0, 5*time.Second)
		gb := b.WaitRecord(t, "ISAKMP SA removed", 0, 5*time.Second)
		if ga[0]["reason"] != "terminated" || gb[0]["reason"] != "deleted by the peer" {
			t.Errorf("removed: A says %v, B says %v", ga[0]["reason"], gb[0]["reason"])
		}
		if ga[0]["cookies"] != ra[0]["cookies"] || gb[0]["conn"] != "link" || gb[0]["role"] != "responder" {
			t.Errorf("removed lines: A %v, B %v", ga[0], gb[0])
		}
	})
}

// TestAggressiveWrongPSKResponder46: A and B hold different PSKs in
// Aggressive Mode. A, the initiator, finds HASH_R wrong and says so with a
// notify sealed under its keys, which B cannot open: B logs message 46
// once, naming the undecryptable message and the pre-shared key, and not
// again when the half-open SA expires.
func TestAggressiveWrongPSKResponder46(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := childPair(t, nw, "start", childOpts{mode: "aggressive", psk: "key of A", localID: "fqdn:a.example"},
			childOpts{mode: "aggressive", psk: "key of B", localID: "fqdn:b.example"})
		a.WaitRecord(t, "", 46, 30*time.Second)
		r := b.WaitRecord(t, "", 46, 5*time.Second)
		want := "Phase-1 [responder] between b.example and a.example failed; could not decrypt the peer's message: pre-shared keys differ?"
		if len(r) != 1 || r[0]["msg"] != want {
			t.Fatalf("B's message 46: %v, want once %q\n%s", r, want, b.Log.String())
		}
		time.Sleep(daemon.DefaultSettings().HalfOpenLifetime + 5*time.Second)
		if n := len(b.Records(t, "", 46)); n != 1 {
			t.Errorf("B logged message 46 %d times\n%s", n, b.Log.String())
		}
		if len(b.Records(t, "ISAKMP SA established", 0))+len(a.Records(t, "ISAKMP SA established", 0)) != 0 {
			t.Errorf("an SA was established with different PSKs")
		}
		if !strings.Contains(b.Log.String(), "half-open ISAKMP SA expired") {
			t.Errorf("B's half-open SA did not expire\n%s", b.Log.String())
		}
	})
}

// TestHalfOpenTimeout46: B's answers are lost, so A never sends MM3; when
// B's half-open SA expires it logs message 46 naming what it waited for.
func TestHalfOpenTimeout46(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		nw.Silence(netip.MustParseAddr("192.0.2.2"), true)
		_, b := childPair(t, nw, "start", childOpts{localID: "fqdn:a.example"}, childOpts{localID: "fqdn:b.example"})
		r := b.WaitRecord(t, "", 46, daemon.DefaultSettings().HalfOpenLifetime+5*time.Second)
		want := "Phase-1 [responder] between 192.0.2.2 and 192.0.2.1 failed; timeout waiting for MM3"
		if len(r) != 1 || r[0]["msg"] != want {
			t.Fatalf("B's message 46: %v, want once %q", r, want)
		}
	})
}
