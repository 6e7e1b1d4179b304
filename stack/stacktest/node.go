package stacktest

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/daemon/udp"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
)

// Node is a running daemon of a test.
type Node struct {
	*stack.Stack
	// Engine is the memory engine's backend: the IPsec SAs installed.
	Engine *memory.Backend
	// Log is the daemon's JSON log.
	Log *daemontest.LogBuffer
	// Socket is the control socket's path (open only on the host's
	// network).
	Socket string
	// Conf is the policy file's path: rewrite it, then reload.
	Conf string
	net  udp.Network
}

// Options vary how a node starts.
type Options struct {
	// Net is the network; nil means the host's UDP sockets and the
	// control socket.
	Net udp.Network
	// Edit, if set, may change the stack's parts after stack.Build and
	// before stack.Register (say, its Deleter, to play a peer that says
	// goodbye as another implementation does).
	Edit func(*stack.Stack)
	// Engine are the memory engine's options (install delay, policy
	// watch).
	Engine memory.Options
	// EngineQueue bounds the daemon-to-engine queue (0: the default).
	EngineQueue int
	// Rand, if set, is the daemon's random source (cookies, nonces, DH
	// keys, message IDs), to make its side of an exchange repeatable.
	Rand io.Reader
	// IOWorkers and IOQueue, when set, size the daemon's I/O pool
	// (daemon.Options); the worker pool has one worker.
	IOWorkers, IOQueue int
	// Watch, if set, watches the daemon's SAs after the stack's own
	// watchers (say, to record what became of each ISAKMP SA).
	Watch daemon.Watcher
	// Control opens the control socket (Node.Socket) on an in-memory
	// Net too, for tests that run ikectl against the node outside a
	// synctest bubble.
	Control bool
	// LogTo, if set, receives the daemon's JSON log instead of Node.Log,
	// which stays empty: a benchmark's sink, which a growing buffer
	// would distort.
	LogTo io.Writer
}

// Phase1Only is an Options.Edit that makes the node's initiator phase 1
// alone, as cmd/ikeload's -qm=false does: `initiate: start` and `ikectl
// initiate` open an ISAKMP SA and no Quick Mode follows. The node still
// answers Quick Mode.
func Phase1Only(s *stack.Stack) { s.Initiator = s.Phase1 }

// Start writes p's policy file, starts a daemon on it with the
// production wiring and stops it when the test ends.
func Start(t testing.TB, p Policy, o Options) *Node {
	t.Helper()
	return StartYAML(t, p.YAML, o)
}

// StartYAML is Start for a policy file of the test's own: yaml returns
// its text, given the control socket's path.
func StartYAML(t testing.TB, yaml func(sock string) string, o Options) *Node {
	t.Helper()
	dir := t.TempDir()
	n := &Node{Engine: memory.New(o.Engine), Log: &daemontest.LogBuffer{},
		Socket: filepath.Join(dir, "iked.sock"), net: o.Net}
	conf := filepath.Join(dir, "iked.yaml")
	n.Conf = conf
	text := yaml(n.Socket)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, msgs, err := policymgr.Load(conf, policymgr.LoadOptions{})
	if err != nil || pol == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	level := pol.Daemon.Log.Level
	var sink io.Writer = n.Log
	if o.LogTo != nil {
		sink = o.LogTo
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: level, Format: "json"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	s := stack.Build(pol.Daemon)
	if o.Edit != nil {
		o.Edit(s)
	}
	var backend engine.Backend
	s.IPsec.Traffic = stack.Counters(&backend)
	s.Register(daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			backend = n.Engine
			return engine.New(n.Engine, engine.Config{QueueSize: o.EngineQueue, Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   o.Net,
		Rand:      o.Rand,
		Log:       lg,
		LogLevel:  level,
		Workers:   1,
		IOWorkers: o.IOWorkers,
		IOQueue:   o.IOQueue,
		NoControl: o.Net != nil && !o.Control,
		Version:   "test",
	}))
	if o.Watch != nil {
		s.Daemon.Watch(o.Watch)
	}
	n.Stack = s
	if err := s.Daemon.Start(); err != nil {
		t.Fatalf("start: %v\n%s\n%s", err, text, n.Log.String())
	}
	t.Cleanup(s.Daemon.Stop)
	return n
}

// Ctl asks the daemon what ikectl would (through the control socket on
// the host's network, directly on an in-memory one) and fails the test
// on an error answer.
func (n *Node) Ctl(t testing.TB, cmd control.Command, name string) control.Response {
	t.Helper()
	req := control.Request{Command: cmd, Name: name}
	var r control.Response
	if n.net != nil {
		r = n.Daemon.Control(req)
	} else {
		rp, err := control.Call(n.Socket, req, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r = *rp
	}
	if r.Error != "" {
		t.Fatalf("%s %s: %s\n%s", cmd, name, r.Error, n.Log.String())
	}
	return r
}

// Records returns the log entries whose message is msg (or catalog number
// num when num is not 0).
func (n *Node) Records(t testing.TB, msg string, num int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(n.Log.String(), "\n") {
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

// WaitRecord waits up to limit for a log entry msg (or catalog number num).
func (n *Node) WaitRecord(t testing.TB, msg string, num int, limit time.Duration) []map[string]any {
	t.Helper()
	var rs []map[string]any
	Wait(t, limit, "log entry "+msg, func() bool { rs = n.Records(t, msg, num); return len(rs) > 0 }, n)
	return rs
}

// WaitSAs waits up to limit for the engine to hold k IPsec SAs.
func (n *Node) WaitSAs(t testing.TB, k int, limit time.Duration) {
	t.Helper()
	Wait(t, limit, "IPsec SAs in the engine", func() bool { return len(n.Engine.SAs()) == k }, n)
}

// Wait checks cond every 20 ms (of virtual time inside a synctest
// bubble) for up to limit and fails the test with the logs of nodes when
// it does not become true.
func Wait(t testing.TB, limit time.Duration, what string, cond func() bool, nodes ...*Node) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			var logs strings.Builder
			for i, n := range nodes {
				logs.WriteString("\n--- node " + string(rune('A'+i)) + ":\n" + n.Log.String())
			}
			t.Fatalf("%s: not within %v%s", what, limit, logs.String())
		}
	}
}

// The hosts of the in-memory tests (RFC 5737 documentation addresses).
const (
	HostA = "192.0.2.1"
	HostB = "192.0.2.2"
)

// Pair starts B on HostB, then A on HostA, each with its own policy (its
// Local and Remote set here) and options.
func Pair(t testing.TB, pa Policy, oa Options, pb Policy, ob Options) (a, b *Node) {
	t.Helper()
	pb.Local, pb.Remote = HostB, HostA
	pa.Local, pa.Remote = HostA, HostB
	b = Start(t, pb, ob)
	a = Start(t, pa, oa)
	return a, b
}

// Net is daemontest's in-memory network, which the nodes of a test share.
type Net = daemontest.Net

// Test runs f in a testing/synctest bubble with a fresh in-memory network:
// the daemons f starts on it live in virtual time. Its sockets send in
// batches as the system's do, so a busy daemon's outbox (daemon/outbox.go)
// is on the path of every exchange these tests run.
func Test(t *testing.T, f func(t *testing.T, nw *Net)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) { f(t, &Net{Batching: true}) })
}
