// Package engine is iked's packet processing engine: the part of the daemon
// that hands negotiated IPsec SAs and the connections' kernel policies to an
// IPsec stack, and brings back what that stack reports (SPIs, installation
// results, ACQUIRE for on-demand initiation, soft and hard EXPIRE).
//
// Why it is shaped this way: the daemon runs one event loop that owns every
// SA table and must never wait on the kernel. So the daemon only ever calls
// Engine.Submit, which puts a Request into a bounded two-class Queue and
// returns at once (messages 68-70 when it is full); a single worker goroutine
// carries the requests to a Backend, whose calls may block on netlink, and
// every answer comes back to the loop as an Event on Engine.Events.
//
// Backends: engine/xfrm talks Linux XFRM netlink (optionally inside a given
// network namespace); engine/memory (`engine: none`) keeps SAs in memory and
// records their keys so tests can compare them with a peer's.
package engine
