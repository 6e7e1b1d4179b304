package daemon_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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

const e2ePolicy = `daemon:
  listen: ["%[1]s"]
  ike-port: %[3]d
  natt-port: 0
  engine: none
  control-socket: %[4]s
  retransmit: {timeout: 500ms, tries: 3}
  log: {level: debug}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
connections:
  link:
    local-address: %[1]s
    remote-address: %[2]s
    initiate: never
    ike: {mode: %[5]s, transforms: [ike], auth: psk, psk: "loopback test key"}
    proposal-list: qm
`

type node struct {
	d    *daemon.Daemon
	sock string
	log  *lockedBuffer
}

func startNode(t *testing.T, local, remote string, port int, mode string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{sock: filepath.Join(dir, "iked.sock"), log: &lockedBuffer{}}
	conf := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(e2ePolicy, local, remote, port, n.sock, mode)), 0o600); err != nil {
		t.Fatal(err)
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "debug", Format: "json"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.d = daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Log:     lg,
		Version: "e2e",
	})
	rt := &phase1.Runtime{Hooks: phase1.NewHooks(phase1.NATTConfig{})}
	n.d.Register(isakmp.ExchangeMain, rt)
	n.d.Register(isakmp.ExchangeAggressive, rt)
	n.d.RegisterInitiator(rt)
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

// TestLoopbackPhase1 runs two daemons over loopback with the real phase 1
// and the real policy loader: one initiates through the control socket,
// both end with the same established ISAKMP SA, and each exchange was
// answered by the event loop, the worker pool and the sockets of this
// package.
func TestLoopbackPhase1(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback end to end in -short mode")
	}
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) {
			port := 20000 + rand.IntN(20000)
			a := startNode(t, "127.0.0.1", "127.0.0.2", port, mode)
			b := startNode(t, "127.0.0.2", "127.0.0.1", port, mode)
			if r := a.call(t, control.CmdInitiate, "link"); r.Error != "" {
				t.Fatalf("initiate: %s\n%s", r.Error, a.log.String())
			}
			var sa, sb []control.SA
			deadline := time.Now().Add(10 * time.Second)
			for {
				sa = a.call(t, control.CmdListSAs, "").SAs
				sb = b.call(t, control.CmdListSAs, "").SAs
				if len(sa) == 1 && len(sb) == 1 && sa[0].Established && sb[0].Established {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not established: a %+v, b %+v\na:\n%s\nb:\n%s", sa, sb, a.log.String(), b.log.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if sa[0].ICookie != sb[0].ICookie || sa[0].RCookie != sb[0].RCookie {
				t.Errorf("cookies differ: %s:%s and %s:%s", sa[0].ICookie, sa[0].RCookie, sb[0].ICookie, sb[0].RCookie)
			}
			if sa[0].Role != "initiator" || sb[0].Role != "responder" || sa[0].Conn != "link" || sb[0].Conn != "link" {
				t.Errorf("roles or connections: %+v / %+v", sa[0], sb[0])
			}
			if st := b.call(t, control.CmdStatus, "").Status; st.HalfOpen != 0 || st.Established != 1 {
				t.Errorf("responder status: half-open %d, established %d", st.HalfOpen, st.Established)
			}
			for _, n := range []*node{a, b} {
				if strings.Contains(n.log.String(), "loopback test key") {
					t.Error("the PSK reached the log")
				}
			}
		})
	}
}
