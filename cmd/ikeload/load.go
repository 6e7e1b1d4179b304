package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/udp"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
)

// Options are what a run needs besides its Config.
type Options struct {
	// Network is what the daemons bind through (nil: the host's UDP
	// sockets); tests give daemontest's in-memory network.
	Network udp.Network
	// Progress, when set, is called about five times a second.
	Progress func(Progress)
	// Log, when set, gets the daemons' log (at Config's level, error).
	Log io.Writer
	// Holding, when set, is called as Config.Hold begins: every SA has
	// finished and none is deleted yet.
	Holding func()
}

// Progress is a run's state while it runs.
type Progress struct {
	Begun, OK, Failed, Total int
	Elapsed, Duration        time.Duration
}

// instance is one initiating daemon: iked's own stack (stack.Build), as
// cmd/iked wires it, bound to one source address and port.
type instance struct {
	s *stack.Stack
	d *daemon.Daemon
}

// Run begins cfg.Total SAs (or as many as cfg.Duration allows), waits for
// each to finish (established, failed or timed out) and reports. It
// stops beginning SAs when ctx ends, and still waits for those begun.
func Run(ctx context.Context, cfg Config, opt Options) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	targets := map[netip.Addr]bool{}
	for _, t := range cfg.Targets {
		targets[t.Unmap()] = true
	}
	g := &guardNet{inner: opt.Network, targets: targets, port: cfg.Port, netns: cfg.Netns, halfOpen: cfg.HalfOpen}
	w := opt.Log
	if w == nil {
		w = io.Discard
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "error", Format: "json"}, w)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ikeload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	col := newCollector(cfg.QuickMode)
	slots := make(chan struct{}, cfg.Concurrency)
	var finished atomic.Int64
	col.done = func() {
		finished.Add(1)
		select {
		case <-slots:
		default:
		}
	}
	if cfg.Delete {
		delq := make(chan func(), 4096)
		defer close(delq)
		go func() {
			for f := range delq {
				f()
			}
		}()
		col.deleted = func(d *daemon.Daemon, ic string) {
			f := func() { d.Control(control.Request{Command: control.CmdTerminate, Name: ic}) }
			select {
			case delq <- f:
			default:
				go f() // the loop must never wait for its own Control
			}
		}
	}
	sub := lg.Subscribe(1 << 16)
	defer sub.Close()
	stopFollow := make(chan struct{})
	followed := make(chan struct{})
	go func() { col.follow(sub, stopFollow); close(followed) }()

	var insts []*instance
	defer func() {
		for _, in := range insts {
			in.d.Stop()
		}
	}()
	for _, src := range cfg.Sources {
		for p := 0; p < cfg.Ports; p++ {
			port := cfg.SourcePort + uint16(p)
			in, err := startInstance(cfg, src, port, dir, g, lg, col)
			if err != nil {
				return nil, err
			}
			insts = append(insts, in)
		}
	}

	start := time.Now()
	begun := 0
	progress := func() {
		if opt.Progress == nil {
			return
		}
		col.mu.Lock()
		p := Progress{Begun: begun, OK: col.ok, Failed: col.bad, Total: cfg.Total, Elapsed: time.Since(start), Duration: cfg.Duration}
		col.mu.Unlock()
		opt.Progress(p)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var end <-chan time.Time
	if cfg.Duration > 0 {
		tm := time.NewTimer(cfg.Duration)
		defer tm.Stop()
		end = tm.C
	}
begin:
	for cfg.Total == 0 || begun < cfg.Total {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break begin
		case <-end:
			break begin
		}
		if cfg.Rate > 0 {
			at := start.Add(time.Duration(float64(begun) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(at); wait > 0 {
				tm := time.NewTimer(wait)
				select {
				case <-tm.C:
				case <-ctx.Done():
					tm.Stop()
					<-slots
					break begin
				case <-end:
					tm.Stop()
					<-slots
					break begin
				}
			}
		}
		select {
		case <-tick.C:
			progress()
		default:
		}
		in := insts[begun%len(insts)]
		conn := connName((begun / len(insts)) % len(cfg.Targets))
		begun++
		if r := in.d.Control(control.Request{Command: control.CmdInitiate, Name: conn}); r.Error != "" {
			col.initiateFailed(r.Error)
		}
	}
	// Wait for the SAs begun: each ends established, refused or timed
	// out within the daemons' retransmissions (twice: phase 1 and Quick
	// Mode), and a little more.
	limit := time.NewTimer(2*retransmitSpan(cfg.Retransmit, cfg.Tries) + 5*time.Second)
	defer limit.Stop()
wait:
	for finished.Load() < int64(begun) {
		select {
		case <-tick.C:
			progress()
		case <-limit.C:
			break wait
		}
	}
	progress()
	if cfg.Hold > 0 {
		if opt.Holding != nil {
			opt.Holding()
		}
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
		}
	}
	for _, in := range insts {
		in.d.Stop()
	}
	insts = nil
	close(stopFollow)
	<-followed

	col.mu.Lock()
	rep := &Report{
		Targets: addrStrings(cfg.Targets), Port: cfg.Port, Mode: cfg.Mode, Auth: cfg.Auth,
		IKE:       strings.Join(cfg.Ciphers, "/") + "-" + strings.Join(cfg.Hashes, "/") + "-" + strings.Join(cfg.Groups, "/"),
		QuickMode: cfg.QuickMode, Sources: len(cfg.Sources), Ports: cfg.Ports,
		Begun: begun, Established: col.ok, Failed: col.bad, Unfinished: begun - col.ok - col.bad,
		Latency: percentiles(col.lat), Phase1: percentiles(col.p1),
	}
	last := col.last
	col.mu.Unlock()
	if last.After(start) {
		rep.Seconds = last.Sub(start).Seconds()
		rep.Rate = float64(rep.Established) / rep.Seconds
	}
	rep.Failures = col.reasons()
	if rep.Unfinished > 0 {
		rep.Failures["unfinished at the end"] += rep.Unfinished
	}
	rep.Refused = g.refused.Load()
	rep.Withheld = g.withheld.Load()
	rep.Foreign = g.foreign.Load()
	return rep, nil
}

// startInstance starts one initiating daemon bound to src:port.
func startInstance(cfg Config, src netip.Addr, port uint16, dir string, g *guardNet, lg *notify.Logger, col *collector) (*instance, error) {
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(src.String(), ":", "_"), port)
	conf := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(conf, []byte(cfg.policy(src, port, filepath.Join(dir, name+".sock"))), 0o600); err != nil {
		return nil, err
	}
	pol, msgs, err := policymgr.Load(conf, policymgr.LoadOptions{})
	if err != nil || pol == nil {
		var why []string
		for _, m := range msgs {
			why = append(why, m.Text)
		}
		return nil, fmt.Errorf("the policy ikeload made is refused: %v %s", err, strings.Join(why, "; "))
	}
	s := stack.Build(pol.Daemon)
	s.Phase1.NoInitialContact = !cfg.InitialContact
	if !cfg.QuickMode {
		s.Initiator = s.Phase1
	}
	d := daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   g,
		Log:       lg,
		Workers:   cfg.Workers,
		NoControl: true,
		Version:   "ikeload",
	})
	s.Register(d)
	s.IPsec.OnInstalled = col.installed(d)
	d.Watch(watcher{c: col, d: d})
	if err := d.Start(); err != nil {
		return nil, fmt.Errorf("initiator on %s port %d: %w", src, port, err)
	}
	return &instance{s: s, d: d}, nil
}

// retransmitSpan is how long an exchange waits before giving up: the
// first wait, doubled each try.
func retransmitSpan(first time.Duration, tries int) time.Duration {
	var d time.Duration
	for i := 0; i < tries && i < 20; i++ {
		d += first << i
	}
	return d
}

// Percentiles are latencies in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / float64(time.Millisecond)
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
