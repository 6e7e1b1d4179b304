package quickmode_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const loopPolicy = `daemon:
  listen: ["%[1]s"]
  ike-port: %[3]d
  natt-port: 0
  engine: none
  control-socket: %[4]s
  retransmit: {timeout: 500ms, tries: 3}
  phase2-lifetime-min: 1s
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes256], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
connections:
  link:
    local-address: %[1]s
    remote-address: %[2]s
    initiate: %[5]s
    ike: {mode: main, transforms: [ike], auth: psk, psk: "quick mode loopback key"}
    proposal-list: qm
    pfs: modp2048
    lifetime: %[6]s
`

type node struct {
	d    *daemon.Daemon
	back *memory.Backend
	sock string
	log  *lockedBuffer
}

// startNode runs a daemon wired as cmd/iked wires it (phase 1, then
// quickmode.Runtime for Quick Mode, initiation, informationals and
// deletes) with a memory engine whose records the test reads.
func startNode(t *testing.T, local, remote string, port int, initiate string, lifetime ...string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{sock: filepath.Join(dir, "iked.sock"), log: &lockedBuffer{}, back: memory.New(memory.Options{})}
	conf := filepath.Join(dir, "iked.yaml")
	life := "1h"
	if len(lifetime) > 0 {
		life = lifetime[0]
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(loopPolicy, local, remote, port, n.sock, initiate, life)), 0o600); err != nil {
		t.Fatal(err)
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
		Log:      lg,
		LogLevel: "keys",
		Version:  "qm",
	})
	p1 := &phase1.Runtime{Hooks: phase1.NewHooks(phase1.NATTConfig{})}
	n.d.Register(isakmp.ExchangeMain, p1)
	n.d.Register(isakmp.ExchangeAggressive, p1)
	quickmode.Register(n.d, p1, phase1.NewInfoHandler(phase1.DPDConfig{}))
	if err := n.d.Start(); err != nil {
		t.Fatalf("start %s: %v\n%s", local, err, n.log.String())
	}
	t.Cleanup(n.d.Stop)
	return n
}

func (n *node) call(t *testing.T, cmd control.Command, name string) *control.Response {
	t.Helper()
	r, err := control.Call(n.sock, control.Request{Command: cmd, Name: name}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, what string, cond func() bool, a, b *node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out\na:\n%s\nb:\n%s", what, a.log.String(), b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoopbackDaemons: `ikectl initiate` on one daemon runs phase 1 and
// then Quick Mode with PFS through the real loops, sockets, worker pools
// and engine queues; each daemon's memory engine holds the other's
// outbound SAs as its inbound ones with the same keys; `ikectl terminate`
// sends the Deletes and the peer removes its SAs (message 62).
func TestLoopbackDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback daemons in -short mode")
	}
	port := 20000 + rand.IntN(20000)
	a := startNode(t, "127.0.0.1", "127.0.0.2", port, "never")
	b := startNode(t, "127.0.0.2", "127.0.0.1", port, "never")
	if r := a.call(t, control.CmdInitiate, "link"); r.Error != "" {
		t.Fatalf("initiate: %s\n%s", r.Error, a.log.String())
	}
	waitFor(t, "both bundles installed", func() bool { return len(a.back.SAs()) == 2 && len(b.back.SAs()) == 2 }, a, b)
	for _, pr := range [][2]*node{{a, b}, {b, a}} {
		for _, o := range pr[0].back.SAs() {
			if o.Inbound {
				continue
			}
			in, ok := pr[1].back.Lookup(o.Ref)
			if !ok || !in.Inbound || !in.SA.Encryption.Key.Equal(o.SA.Encryption.Key) || !in.SA.Integrity.Key.Equal(o.SA.Integrity.Key) ||
				in.SA.Encryption.Name != "cbc(aes)" || len(in.SA.Encryption.Key) != 32 || in.Lifetime.HardSeconds != 3600 {
				t.Errorf("outbound %s has no matching inbound SA on the peer: %+v", o.Ref, in)
			}
		}
	}
	// ikectl list-sas over the control socket lists each side's bundle
	// under its ISAKMP SA with the SPIs its engine holds.
	for _, n := range []*node{a, b} {
		sas := n.call(t, control.CmdListSAs, "").SAs
		if len(sas) != 1 || len(sas[0].Children) != 1 || len(sas[0].Children[0].SAs) != 2 {
			t.Fatalf("list-sas: %+v", sas)
		}
		for _, s := range sas[0].Children[0].SAs {
			found := false
			for _, r := range n.back.SAs() {
				found = found || (fmt.Sprintf("0x%08x", r.Ref.SPI) == s.SPI && r.Inbound == (s.Direction == "in"))
			}
			if !found {
				t.Errorf("list-sas shows %s SA %s, not in the engine", s.Direction, s.SPI)
			}
		}
	}
	for _, n := range []*node{a, b} {
		l := n.log.String()
		if !strings.Contains(l, `"msg":"IPsec SA keys"`) || !strings.Contains(l, `"msg":"IPsec SA established"`) {
			t.Errorf("no IPsec SA established / keys log:\n%s", l)
		}
		if strings.Contains(l, "quick mode loopback key") {
			t.Error("the PSK reached the log")
		}
	}
	if r := a.call(t, control.CmdTerminate, "link"); r.Error != "" {
		t.Fatalf("terminate: %s", r.Error)
	}
	waitFor(t, "SAs deleted on both sides", func() bool { return len(a.back.SAs()) == 0 && len(b.back.SAs()) == 0 }, a, b)
	if !strings.Contains(b.log.String(), "Requested to delete SA ESP[0x") {
		t.Errorf("no message 62 on the peer:\n%s", b.log.String())
	}
	waitFor(t, "the peer deleted the ISAKMP SA", func() bool { return len(b.call(t, control.CmdListSAs, "").SAs) == 0 }, a, b)
}

// TestLoopbackOnDemand: a packet that matches the trap policy of an
// on-demand connection makes the engine report ACQUIRE; the Runtime starts
// phase 1 (no ISAKMP SA is up) and then Quick Mode; a second ACQUIRE once
// phase 1 is up starts a Quick Mode on the same ISAKMP SA.
func TestLoopbackOnDemand(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback daemons in -short mode")
	}
	port := 20000 + rand.IntN(20000)
	a := startNode(t, "127.0.0.1", "127.0.0.2", port, "on-demand")
	b := startNode(t, "127.0.0.2", "127.0.0.1", port, "never")
	if len(a.back.Policies()) == 0 {
		t.Fatal("no trap policies installed for the on-demand connection")
	}
	pkt := engine.Selector{Local: netip.MustParsePrefix("127.0.0.1/32"), Remote: netip.MustParsePrefix("127.0.0.2/32"), Protocol: 6, RemotePort: 80}
	if !a.back.Packet(pkt) {
		t.Fatal("the memory engine reported no ACQUIRE")
	}
	waitFor(t, "both bundles installed after the ACQUIRE", func() bool { return len(a.back.SAs()) == 2 && len(b.back.SAs()) == 2 }, a, b)
	if sas := a.call(t, control.CmdListSAs, "").SAs; len(sas) != 1 || sas[0].Role != "initiator" {
		t.Errorf("ISAKMP SAs after the ACQUIRE: %+v", sas)
	}
}

// TestLoopbackRekey: with a 3 s lifetime the memory engine reports the
// soft EXPIRE at 2 s; the Quick Mode initiator negotiates a new bundle
// on the same ISAKMP SA and deletes the old one (the peer logs 62), before
// the hard lifetime; afterwards each side has exactly the new pair.
func TestLoopbackRekey(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback daemons in -short mode")
	}
	port := 20000 + rand.IntN(20000)
	a := startNode(t, "127.0.0.1", "127.0.0.2", port, "never", "3s")
	b := startNode(t, "127.0.0.2", "127.0.0.1", port, "never", "3s")
	if r := a.call(t, control.CmdInitiate, "link"); r.Error != "" {
		t.Fatalf("initiate: %s", r.Error)
	}
	waitFor(t, "first bundles", func() bool { return len(a.back.SAs()) == 2 && len(b.back.SAs()) == 2 }, a, b)
	first := map[uint32]bool{}
	for _, r := range a.back.SAs() {
		first[r.Ref.SPI] = true
	}
	rekeyed := func() bool {
		sa, sb := a.back.SAs(), b.back.SAs()
		if len(sa) != 2 || len(sb) != 2 {
			return false
		}
		for _, r := range sa {
			if first[r.Ref.SPI] {
				return false
			}
		}
		return true
	}
	waitFor(t, "rekeyed bundles", rekeyed, a, b)
	for _, o := range a.back.SAs() {
		in, ok := b.back.Lookup(o.Ref)
		if o.Inbound {
			in, ok = b.back.Lookup(o.Ref)
		}
		if !ok || !in.SA.Encryption.Key.Equal(o.SA.Encryption.Key) {
			t.Errorf("%s has no matching SA on the peer", o.Ref)
		}
	}
	if !strings.Contains(b.log.String(), "Requested to delete SA ESP[0x") || !strings.Contains(a.log.String(), "IPsec SA rekeyed") {
		t.Errorf("no rekey/delete in the logs:\n%s", b.log.String())
	}
	if sas := a.call(t, control.CmdListSAs, "").SAs; len(sas) != 1 {
		t.Errorf("rekeying made %d ISAKMP SAs", len(sas))
	}
}
