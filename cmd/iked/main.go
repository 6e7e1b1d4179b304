// Command iked is the IKEv1 negotiation daemon. This file is flags, the
// logger, the engine backends and signals; package stack puts the daemon
// together and package daemon runs it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/engine/xfrm"
	"github.com/iked/iked/engine/xfrm/unmatched"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/stack"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run()) }

func run() int {
	config := flag.String("config", "/etc/iked/iked.yaml", "the policy file")
	check := flag.Bool("check", false, "load the policy file, print every message, exit 1 if it is not instantiated; start nothing")
	checkJSON := flag.Bool("json", false, "with -check: print the findings as one JSON document (docs/policy-file.md)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	debug := flag.String("debug", "", "log level overriding daemon.log.level: keys, debug, info, notice, warning (or warn), error")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: iked [-config FILE] [-check [-json]] [-debug LEVEL] [-version]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 || (*checkJSON && !*check) {
		flag.Usage()
		return 2
	}
	if *showVersion {
		fmt.Println("iked", version)
		return 0
	}
	if *debug != "" {
		if _, err := notify.ParseLevel(*debug); err != nil {
			fmt.Fprintln(os.Stderr, "iked:", err)
			return 2
		}
	}
	if *check {
		findings, ok := policymgr.Check(*config, policymgr.LoadOptions{})
		if *checkJSON {
			if err := policymgr.WriteJSONReport(os.Stdout, *config, findings, ok); err != nil {
				fmt.Fprintln(os.Stderr, "iked:", err)
				return 1
			}
			if !ok {
				return 1
			}
			return 0
		}
		for _, f := range findings {
			fmt.Println(f.String())
		}
		if !ok {
			return 1
		}
		fmt.Printf("%s: policy OK\n", *config)
		return 0
	}

	// Reloads must find the file whatever the working directory becomes.
	if abs, err := filepath.Abs(*config); err == nil {
		*config = abs
	}

	// The policy's log section decides the logger, so read it first; the
	// daemon then loads the policy properly and logs what it finds.
	logCfg := notify.LogConfig{Level: "info", Format: "console"}
	pd := policymgr.DefaultDaemon()
	if p, _, err := policymgr.Load(*config, policymgr.LoadOptions{}); err == nil && p != nil {
		pd = p.Daemon
		logCfg = pd.Log
	}
	if *debug != "" {
		logCfg.Level = *debug
	}
	// Under systemd, standard error is the journal: native entries there.
	logCfg.Journal = notify.JournalStream()
	// Log lines go out together, at most notify.DefaultFlushDelay late
	// (and at once after an error): a busy responder logs several lines
	// per handshake, and a write system call for each cost some 5 % of
	// its CPU (docs/performance.md).
	console := notify.NewBuffered(os.Stderr, 0)
	log, err := notify.NewLogger(logCfg, console)
	if err != nil {
		fmt.Fprintln(os.Stderr, "iked:", err)
		return 1
	}
	defer log.Sync()

	var backend engine.Backend // set before the loop starts
	s := stack.New(daemon.Options{
		ConfigFile: *config,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(name string) (daemon.Engine, error) {
			var b engine.Backend
			switch name {
			case "none":
				b = memory.New(memory.Options{})
			case "xfrm":
				b = xfrm.New(xfrm.Options{Removed: func(l xfrm.Leftovers) {
					log.Warn("removed the kernel SAs and policies an earlier iked left (it did not stop cleanly)",
						zap.Strings("policies", l.Policies), zap.Strings("SAs", l.SAs))
				}})
			default:
				return nil, fmt.Errorf("unknown engine %q", name)
			}
			backend = b
			return engine.New(b, engine.Config{Report: func(m notify.Message) { log.Emit(m) }}), nil
		},
		SelfTest: ikecrypto.SelfTest,
		// Message 7 (daemon.log-unmatched): the daemon uses it with the xfrm engine only.
		Unmatched: &unmatched.Control{Options: unmatched.Options{Emit: log.Emit}},
		Log:       log,
		LogLevel:  *debug,
		Version:   version,
	}, pd)
	s.IPsec.Traffic = stack.Counters(&backend)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	err = serve(s.Daemon, log, sigs)
	_ = log.Sync() // the log's last lines before any message below
	if err != nil {
		var ee *daemon.ExitError
		if errors.As(err, &ee) {
			return ee.Code
		}
		fmt.Fprintln(os.Stderr, "iked:", err)
		return 1
	}
	return 0
}
