package main

import "github.com/iked/iked/daemon"

// registerExchanges plugs the exchange handlers into the daemon: phase1/
// (Main, Aggressive, informational; the initiator) and quickmode/ (Quick
// Mode, kernel acquires and expires) register here once they exist.
// Until then the daemon answers nothing: first messages are counted as
// no-handler.
func registerExchanges(d *daemon.Daemon) {}
