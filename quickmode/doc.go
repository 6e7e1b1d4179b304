// Package quickmode negotiates IKEv1 phase 2: Quick Mode (RFC 2409, 5.5;
// 5.6 with perfect forward secrecy) as initiator and as responder, over an
// ISAKMP SA that phase1 established, and hands the resulting SA bundle to
// the packet processing engine.
//
//	Initiator                        Responder
//	HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] [, NAT-OAi, NAT-OAr] -->
//	<-- HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)] [, NAT-OA]
//	HDR*, HASH(3)                    -->
//
// Why it is shaped like phase1: the package is pure (no sockets, clocks or
// goroutines). An Exchange has an explicit State with String, consumes a
// datagram (Consume) or the value of work it asked for (Resume: a Work
// closure's value, or an engine.Event answering an AllocSPI or Install it
// asked for), and returns the daemon's Result, the one step type of every
// exchange: what to send, what to ask the engine, what to log (the bundle
// it installed and an informational to send are taken from the Exchange:
// Installed, TakeInfo). The Diffie-Hellman work of PFS runs in Work closures
// off the daemon's loop. Manager, the IPsec SA manager, adapts it to the
// daemon: manager.go (the Quick Mode handler, the bookkeeping of each
// Result), table.go (the IPsec SAs of each ISAKMP SA), initiate.go
// (`ikectl initiate` and ACQUIREs: phase 1, then Quick Mode), rekey.go
// (EXPIREs, rekeys, retiring the old bundle), informational.go (the
// peer's notifies and deletes about IPsec SAs, our Deletes on terminate),
// watch.go (IPsec SAs follow their ISAKMP SA), list.go (`ikectl list-sas`).
//
// The hashes, IVs and KEYMAT are computed exactly as strongSwan 5.9 computes
// them (RFC 2409, 5.5): HASH(1) = prf(SKEYID_a, M-ID | rest),
// HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest), HASH(3) = prf(SKEYID_a, 0 |
// M-ID | Ni_b | Nr_b); the IV of each exchange is H(last phase 1 block |
// M-ID); the KEYMAT of each SA uses the SPI its receiver chose, so our
// inbound SA's keys use our own SPI.
//
// Rekeying: the side whose soft lifetime comes first rekeys, as charon
// does: when the engine reports a bundle's soft EXPIRE, a new Quick Mode
// starts (after a new phase 1 if the connection has no ISAKMP SA) and the
// old bundle is deleted once the new one is installed (the peer told).
// The Quick Mode initiator's soft limit is a tenth before the hard one,
// the responder's a twentieth, and the responder waits a moment more and
// rekeys only if the peer has not; otherwise the peer's Delete retires
// the old bundle.
//
// The Manager is also a daemon.Watcher: what becomes of the IPsec SAs of
// an ISAKMP SA that goes depends on why (watch.go), and `ikectl list-sas`
// lists them under their ISAKMP SA (list.go).
package quickmode
