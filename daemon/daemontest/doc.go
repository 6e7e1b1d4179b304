// Package daemontest is the in-memory world the daemon's tests run in:
// one UDP network (Net) with hooks to lose, delay, count and NAT-rewrite
// datagrams, and one log sink (LogBuffer) that a test reads while daemons
// write. It imports no daemon package (only daemon/udp's types), so that
// package daemon's own tests can use it too; stack/stacktest starts
// daemons on it with the production wiring, or with a given one.
//
// Everything works in virtual time: run the tests inside
// testing/synctest's bubble, where a delayed datagram waits on the
// bubble's clock and synctest.Wait lets the daemons settle.
package daemontest
