package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Tests of what an operator reads about ISAKMP SAs at info level, with
// the wiring iked runs: the established line (phase1.SALog), the removal
// line (daemon), and message 46 for a half-open SA (phase1.HalfOpen).

// logPolicy is lifePolicy at the keys level (so that a test can look for
// the derived keys in the other lines), with the mode, identities and
// PSK as parameters.
const logPolicy = `daemon:
  listen: ["%[1]s"]
  natt-port: 0
  engine: none
  control-socket: %[4]s
  retransmit: {timeout: 500ms, tries: 3}
  log: {level: keys, format: json}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048], lifetime: 3h}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
connections:
  link:
    local-address: %[1]s
    remote-address: %[2]s
    initiate: %[3]s
    ike: {mode: %[5]s, transforms: [ike], auth: psk, psk: "%[6]s", local-id: "%[7]s"}
    proposal-list: qm
`

type logOpts struct {
	mode, psk, localID string
}

func startLogNode(t *testing.T, nw *memNet, local, remote, initiate string, o logOpts) *lifeNode {
	t.Helper()
	n := &lifeNode{back: memory.New(memory.Options{}), log: &lockedBuffer{}}
	dir := t.TempDir()
	conf := filepath.Join(dir, "iked.yaml")
	text := fmt.Sprintf(logPolicy, local, remote, initiate, filepath.Join(dir, "unused.sock"), o.mode, o.psk, o.localID)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(conf, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "keys", Format: "json"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.d = daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(n.back, engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   nw,
		Log:       lg,
		LogLevel:  "keys",
		Workers:   1,
		NoControl: true,
	})
	registerExchanges(n.d, p.Daemon)
	if err := n.d.Start(); err != nil {
		t.Fatalf("start: %v\n%s", err, n.log.String())
	}
	t.Cleanup(n.d.Stop)
	return n
}

// records returns the node's log entries whose message is msg (catalog
// number num when num is not 0).
func (n *lifeNode) records(t *testing.T, msg string, num int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(n.log.String(), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, l)
		}
		m, _ := r["msg"].(string)
		c, _ := r["catalog"].(float64)
		if (msg != "" && m == msg) || (num != 0 && int(c) == num) {
			out = append(out, r)
		}
	}
	return out
}

// waitRecord lets virtual time run until the node logged msg (or catalog
// number num).
func (n *lifeNode) waitRecord(t *testing.T, msg string, num int, limit time.Duration) []map[string]any {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if rs := n.records(t, msg, num); len(rs) > 0 {
			return rs
		}
	}
	t.Fatalf("no %q (catalog %d) logged\n%s", msg, num, n.log.String())
	return nil
}

// hexKeys returns the hex values the node logged at the keys level.
func (n *lifeNode) hexKeys(t *testing.T) []string {
	var out []string
	for _, r := range n.records(t, "ISAKMP SA keys", 0) {
		for k, v := range r {
			if s, ok := v.(string); ok && k != "cookies" && len(s) >= 16 && strings.Trim(s, "0123456789abcdef") == "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestEstablishedLine: A initiates Main Mode with B. Each logs one
// "ISAKMP SA established" at info naming the connection, its role, the
// mode, both ends with ports, both identities, the transform, lifetime
// and cookies, and nothing else: neither the PSK nor a key logged at the
// keys level appears in it. `ikectl terminate` on A then logs "ISAKMP SA
// removed" with the reason on both sides.
func TestEstablishedLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		o := logOpts{mode: "main", psk: "h15 established line key"}
		ob, oa := o, o
		ob.localID, oa.localID = "fqdn:b.example", "fqdn:a.example"
		b := startLogNode(t, nw, "192.0.2.2", "192.0.2.1", "never", ob)
		a := startLogNode(t, nw, "192.0.2.1", "192.0.2.2", "start", oa)
		ra := a.waitRecord(t, "ISAKMP SA established", 0, 30*time.Second)
		rb := b.waitRecord(t, "ISAKMP SA established", 0, 5*time.Second)
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
		check("A", ra[0], wa, a.hexKeys(t))
		check("B", rb[0], wb, b.hexKeys(t))
		if ra[0]["cookies"] != rb[0]["cookies"] || len(fmt.Sprint(ra[0]["cookies"])) != 33 {
			t.Errorf("cookies: A %v, B %v", ra[0]["cookies"], rb[0]["cookies"])
		}

		a.d.Control(control.Request{Command: control.CmdTerminate, Name: "link"})
		ga := a.waitRecord(t, "ISAKMP SA removed", 0, 5*time.Second)
		gb := b.waitRecord(t, "ISAKMP SA removed", 0, 5*time.Second)
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
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		b := startLogNode(t, nw, "192.0.2.2", "192.0.2.1", "never", logOpts{mode: "aggressive", psk: "h15 key of B", localID: "fqdn:b.example"})
		a := startLogNode(t, nw, "192.0.2.1", "192.0.2.2", "start", logOpts{mode: "aggressive", psk: "h15 key of A", localID: "fqdn:a.example"})
		a.waitRecord(t, "", 46, 30*time.Second)
		r := b.waitRecord(t, "", 46, 5*time.Second)
		want := "Phase-1 [responder] between b.example and a.example failed; could not decrypt the peer's message: pre-shared keys differ?"
		if len(r) != 1 || r[0]["msg"] != want {
			t.Fatalf("B's message 46: %v, want once %q\n%s", r, want, b.log.String())
		}
		time.Sleep(daemon.DefaultSettings().HalfOpenLifetime + 5*time.Second)
		if n := len(b.records(t, "", 46)); n != 1 {
			t.Errorf("B logged message 46 %d times\n%s", n, b.log.String())
		}
		if len(b.records(t, "ISAKMP SA established", 0))+len(a.records(t, "ISAKMP SA established", 0)) != 0 {
			t.Errorf("an SA was established with different PSKs")
		}
		if !strings.Contains(b.log.String(), "half-open ISAKMP SA expired") {
			t.Errorf("B's half-open SA did not expire\n%s", b.log.String())
		}
	})
}

// TestHalfOpenTimeout46: B's answers are lost, so A never sends MM3; when
// B's half-open SA expires it logs message 46 naming what it waited for.
func TestHalfOpenTimeout46(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		nw.setSilent(netip.MustParseAddr("192.0.2.2"), true)
		b := startLogNode(t, nw, "192.0.2.2", "192.0.2.1", "never", logOpts{mode: "main", psk: "h15 k", localID: "fqdn:b.example"})
		startLogNode(t, nw, "192.0.2.1", "192.0.2.2", "start", logOpts{mode: "main", psk: "h15 k", localID: "fqdn:a.example"})
		r := b.waitRecord(t, "", 46, daemon.DefaultSettings().HalfOpenLifetime+5*time.Second)
		want := "Phase-1 [responder] between 192.0.2.2 and 192.0.2.1 failed; timeout waiting for MM3"
		if len(r) != 1 || r[0]["msg"] != want {
			t.Fatalf("B's message 46: %v, want once %q", r, want)
		}
	})
}
