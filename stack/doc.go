// Package stack puts the exchanges together into a complete daemon: the
// one wiring that cmd/iked runs and that the tests start (stack/stacktest).
//
// The layers below it are, from the top: quickmode (Quick Mode and the
// IPsec SA manager), phase1 (Main and Aggressive Mode, informational
// exchanges, the ISAKMP SA's life), daemon (sockets, the event loop, SA
// tables, retransmission), policymgr, pki and engine, and at the bottom
// isakmp, ikecrypto, notify and control. No package imports one above it;
// stack is above them all and only cmd/iked and tests import it.
//
// Register registers every handler once (daemon's Register* panic on a second
// registration, as http.ServeMux does) and builds the chain of
// informational handlers explicitly (see Build).
package stack
