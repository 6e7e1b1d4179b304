// Package phase1 negotiates the ISAKMP SA of IKEv1: Main Mode (RFC 2409, 5,
// six messages, identities encrypted) and Aggressive Mode (three messages),
// as initiator and as responder, authenticated by pre-shared key, RSA
// signature or ECDSA signature (RFC 4754), against the policy model of
// policymgr and the certificate store of pki.
//
// The exchanges follow crypto/tls's handshake and wireguard-go's noise
// protocol: an explicit State (with String) per ISAKMP SA, and one
// create/consume method per message that checks the state first. The
// package is pure: no sockets, no goroutines, no clocks. Every expensive
// step (Diffie-Hellman key generation and shared secret, signing,
// verifying) is returned to the caller as a Work closure; the caller runs
// it wherever it likes (the daemon's worker pool) and feeds its value back
// with Resume, so the event loop never blocks on cryptography.
//
// How the daemon drives it: daemon.go in this package adapts Exchange to the
// daemon's Handler, Initiator and Exchange interfaces (stack.Build
// registers them). An Exchange consumes a datagram (Consume) or a work
// value (Resume) and returns the daemon's Result, the one step type of
// every exchange: the message to send (a request to retransmit, or a
// reply to cache), work to run, catalog messages to log, and whether the
// SA is established or failed (DeleteSA).
// Retransmitted requests are answered by the daemon from its reply cache.
// Loopback drives both roles in one goroutine without a daemon, for the
// in-process tests and benchmarks of this package and quickmode.
// Once established, SA (the ISAKMP SA) holds what Quick Mode and the
// informational exchanges need: SKEYID_d, SKEYID_a, the PRF, the cipher
// with Ka, and the last CBC block of phase 1; StateOf finds it from the
// daemon's SA.
//
// After phase 1 three parts share the work, each doing one thing:
// InfoHandler handles informational exchanges (informational_daemon.go,
// informational_receive.go); Deleter says goodbye with a Delete
// (delete.go); Life, a daemon.Watcher, runs the SA's life: DPD (dpd.go,
// life_dpd.go), NAT keepalives (natt_keepalive.go), the lifetime
// (life.go), reauthentication (reauth.go) and INITIAL-CONTACT
// (informational_contact.go). HalfOpen logs message 46 for responder SAs
// that never come up; SALog writes the line of an established SA.
package phase1
