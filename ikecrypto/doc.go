// Package ikecrypto holds the algorithms and key derivations of IKEv1 (RFC
// 2409): the hash functions and their HMAC PRFs, the CBC ciphers of the ISAKMP
// SA, the Diffie-Hellman groups (MODP and ECP), SKEYID and its offspring, the
// key expansion of Appendix B, the IV chain, HASH_I/HASH_R, the Quick Mode and
// informational hashes, KEYMAT and the NAT-D hash, plus a start-up self-test.
//
// It exists so that phase 1 and Quick Mode see only small interfaces (PRF,
// Cipher, Group, PrivateKey) typed by the attribute values they negotiate, and
// never touch crypto/* directly. The package is pure: no logging, no clocks,
// randomness only from the io.Reader callers pass in. Nothing here logs a
// secret; the returned keys are the caller's to guard.
package ikecrypto
