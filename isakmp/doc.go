// Package isakmp is the IKEv1 wire format: the ISAKMP header and payloads of
// RFC 2408, the IPsec DOI values of RFC 2407, the IKE attributes of RFC 2409,
// NAT traversal payloads of RFC 3947 (and its drafts), and the message
// protection of RFC 2409 Appendix B.
//
// The package is pure: no sockets, goroutines or clocks. Decoding is strict
// and bounded (every length is checked against the bytes it claims, every
// list is capped, reserved fields must be zero) and never panics, so the
// daemon can hand it any datagram. Encoding is canonical and deterministic:
// decoding a canonical message and encoding it again gives the same bytes,
// which matters because strongSwan re-encodes the payloads it parsed before
// checking a Quick Mode hash.
//
// Every decoded payload keeps its exact received body in Raw (and the whole
// payload, generic header included, in RawPayload): HASH_I and HASH_R of
// RFC 2409 section 5 cover the SA payload body as it was sent, not as it
// would be re-encoded.
package isakmp
