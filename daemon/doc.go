// Package daemon is iked's runtime: the UDP sockets on the IKE and NAT-T
// ports, one event loop that owns every ISAKMP SA and exchange, the timers
// (retransmission, half-open expiry), a worker pool for the expensive
// crypto, the engine's queue and the control server.
//
// Per-SA timers (Context.At: DPD, NAT keepalives, the ISAKMP lifetime) run
// on the same Clock and feed the same loop; they stop when their SA goes.
// Watchers (lifecycle.go) hear when an SA is established and when it
// leaves the tables, and why, so that phase1/ arms and wipes, and the
// IPsec SA table removes what an ISAKMP SA takes with it.
//
// Why one loop: every table (SAs by cookie pair, exchanges by message ID,
// the half-open count, the per-source admission table) is touched by one goroutine only,
// so there are no locks in the negotiation path and a test can drive the
// whole runtime in virtual time (testing/synctest) through an injected
// Clock, an injected random source and in-memory sockets.
//
// phase1/ and quickmode/ plug in through Handler and Exchange (handler.go):
// the loop decodes nothing itself beyond the ISAKMP header; it finds the
// exchange a message belongs to, hands it the datagram, and carries out the
// Result: send, retransmit, run work in the pool, submit to the engine, log.
// stack.Build registers them; each role once (Register panics on a second
// handler, as http.ServeMux does on a second pattern).
//
// Files, in the order a datagram meets them: socket.go (the UDP sockets,
// binding), read.go (a goroutine per socket: read, cheap checks),
// blocklist.go (the readers repeat the loop's last per-source refusal),
// natt.go (the NAT-T framing), receive.go (on the loop: find the SA and
// exchange), reassembly.go (IKE fragments held and joined, then received), satable.go (the SA tables: admit, expire, remove),
// admission.go (per-source limits that apply under load), refusals.go (one
// notice line summing up refused datagrams per interval), exchange.go
// (call an exchange, carry out its Result), send.go (transmit, retransmit),
// outbox.go (what a busy loop sends leaves in batches, one sendmmsg(2)
// per socket, when its queue empties), fragment.go (a message too large for the path sent in IKE fragments),
// engine.go (the engine's queue and events), pool.go (the workers: a
// high queue for proven peers, a per-source fair low one for new SAs),
// replay.go (finished message IDs), satimer.go (per-SA timers),
// lifecycle.go (watchers, removal reasons), control.go (ikectl's requests),
// reload.go, policy.go (the policy as the daemon needs it), counters.go,
// keying.go (retrying a failed initiation, keying-tries),
// observe.go (following the log's events for the metrics and the updown
// scripts), metrics.go (the Prometheus metrics), hooks.go (running the
// updown scripts). The socket types are package daemon/udp's; the tests'
// in-memory network and log are daemon/daemontest.
package daemon
