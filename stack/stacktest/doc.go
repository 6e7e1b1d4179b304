// Package stacktest starts daemons with the production wiring
// (stack.Build and stack.Register) for tests: a policy file written from
// a Policy, a memory engine whose records the test reads, a JSON log in a
// daemontest.LogBuffer, and either the in-memory network of
// daemon/daemontest (in virtual time, inside testing/synctest's bubble)
// or the host's sockets and control socket. Test runs a test in the
// bubble with a fresh network; Pair starts two nodes on HostA and HostB;
// Node.Ctl asks what ikectl asks, Node.Records reads the log, Wait polls
// (in virtual time inside the bubble).
//
// It sits above package stack, so the tests of cmd/iked, stack, and the
// external tests of quickmode, phase1 and daemon can use it; only
// daemon's internal tests use daemon/daemontest's network and log with a
// wiring of their own. Options.Watch adds a test's watcher of the SAs,
// Options.Edit changes the stack before it is registered (Phase1Only
// initiates phase 1 alone; a nil Stack.Life runs no SA timers).
package stacktest
