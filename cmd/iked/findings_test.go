package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// findingsPolicy has serious errors (9, 17, 28) and warnings (18, 22) of
// the policy manager, each in its own connection.
const findingsPolicy = `daemon:
  listen: ["192.0.2.1"]
  engine: none
` + stacktest.Transforms + `connections:
  bad-local:
    local-address: 198.51.100.0/33
    remote-gw: 192.0.2.2
    ike: {transforms: [ike], auth: psk, psk: "findings test key"}
    proposal-list: qm
  bad-gw:
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.300
    ike: {transforms: [ike], auth: psk, psk: "findings test key"}
    proposal-list: qm
  mixed:
    local-address: 198.51.100.0/24
    remote-address: 2001:db8::/32
    remote-gw: 192.0.2.3
    ike: {transforms: [ike], auth: psk, psk: "findings test key"}
    proposal-list: qm
  icmp-ports:
    protocol: icmp
    local-port: 80
    remote-gw: 192.0.2.4
    ike: {transforms: [ike], auth: psk, psk: "findings test key"}
    proposal-list: qm
  manual:
    local-address: 192.0.2.1
    remote-address: 192.0.2.5
    manual-keys:
      - protocol: esp
        spi-in: 0x1000
        spi-out: 0x1001
        cipher-key-in: "0x00112233445566778899aabbccddeeff"
        cipher-key-out: "0xffeeddccbbaa99887766554433221100"
        hmac-key-in: "0x00112233445566778899aabbccddeeff00112233"
        hmac-key-out: "0x33221100ffeeddccbbaa99887766554433221100"
`

// startRefused starts a daemon with iked's wiring on the policy file conf,
// which must stop it before the engine opens, and returns its JSON log.
func startRefused(t *testing.T, conf string) string {
	t.Helper()
	log := &daemontest.LogBuffer{}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "debug", Format: "json"}, log)
	if err != nil {
		t.Fatal(err)
	}
	s := stack.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			t.Error("the engine was opened")
			return engine.New(memory.New(memory.Options{}), engine.Config{}), nil
		},
		Network:   &daemontest.Net{},
		Log:       lg,
		NoControl: true,
	}, policymgr.DefaultDaemon())
	if err := s.Daemon.Start(); err == nil {
		s.Daemon.Stop()
		t.Fatalf("the daemon started on %s", conf)
	}
	return log.String()
}

// TestCatalogPolicyFindingsLogged: the policy manager's messages (B.2,
// each tested in its situation by policymgr's TestMessages and pki's
// TestLoadMessages) reach the daemon's log at start-up as they are, in
// the file's order, at their levels, followed by 21 when the policy is
// refused; the daemon opens no engine.
func TestCatalogPolicyFindingsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "iked.yaml")
		if err := os.WriteFile(conf, []byte(findingsPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		p, want, err := policymgr.Load(conf, policymgr.LoadOptions{})
		if err != nil || p != nil {
			t.Fatalf("the policy loaded (%v, %v)", p != nil, err)
		}
		nums := map[int]bool{}
		for _, m := range want {
			nums[m.Num] = true
		}
		for _, n := range []int{9, 17, 18, 22, 28, 21} {
			if !nums[n] {
				t.Fatalf("policymgr found %v, not message %d", want, n)
			}
		}
		log := startRefused(t, conf)
		type entry struct {
			Level, Msg string
			Catalog    int
		}
		var got []entry
		for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
			var r entry
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%v: %q", err, l)
			}
			if r.Catalog != 0 {
				got = append(got, r)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("logged %d catalog messages, policymgr found %d:\n%s", len(got), len(want), log)
		}
		for i, w := range want {
			if g := got[i]; g.Catalog != w.Num || g.Msg != w.Text || g.Level != w.Level.String() {
				t.Errorf("message %d: logged %d %q at %s, want %d %q at %s", i, g.Catalog, g.Msg, g.Level, w.Num, w.Text, w.Level)
			}
		}
	})
}
