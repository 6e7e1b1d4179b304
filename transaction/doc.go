// Package transaction runs the ISAKMP Configuration Method
// (draft-ietf-ipsec-isakmp-mode-cfg-05) on an established ISAKMP SA, in
// Transaction exchanges (type 6): XAUTH (draft-beaulieu-ike-xauth-02) as
// gateway and as client, and Mode Config (pull and push) through the
// ModeConfig interface.
//
//	Gateway (XAUTH server)              Client
//	<-- phase 1 (Main or Aggressive Mode, XAUTH auth method) -->
//	HDR*, HASH, ATTR(REQUEST: user, password)  -->
//	                                    <-- HDR*, HASH, ATTR(REPLY: user, password)
//	(a wrong password: a new REQUEST, three tries in all, as Cisco gateways allow)
//	HDR*, HASH, ATTR(SET: XAUTH-STATUS)        -->
//	                                    <-- HDR*, HASH, ATTR(ACK)
//	Mode Config, pull:                  <-- HDR*, HASH, ATTR(REQUEST)
//	HDR*, HASH, ATTR(REPLY)                    -->
//	or push: HDR*, HASH, ATTR(SET)  -->  <-- HDR*, HASH, ATTR(ACK)
//	then Quick Mode, which the gateway refuses and the client does not
//	start before (quickmode.Manager's Gate).
//
// Each request and its answer share a message ID chosen by the side that
// sends the request, from the daemon's one source (daemon.Context's
// NewMessageID); the identifier of the ATTR payload is repeated in the
// answer. Both messages are protected as draft-ietf-ipsec-isakmp-mode-cfg-05,
// 3.4 says and strongSwan 5.9 computes it: HASH = prf(SKEYID_a, M-ID | ATTR),
// encrypted under an IV of their own, hash(last phase 1 CBC block | M-ID),
// chained from the request to its answer (RFC 2409, Appendix B). The
// daemon retransmits a request until its answer comes and answers a
// retransmitted request from its cache.
//
// Handler is the daemon.Handler of exchange type 6 and a daemon.Watcher:
// an ISAKMP SA of a connection with `ike.xauth: server` gets its first
// REQUEST when it is established. The user name and password go to an
// xauth.Backend in the daemon's worker pool (a RADIUS server may take
// seconds). Three wrong tries, or no answer, delete the ISAKMP SA (with a
// Delete to the peer) and log message 46 with the reason.
package transaction
