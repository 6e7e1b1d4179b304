package ikecrypto

import "encoding/binary"

// Phase1IV returns the first IV of an ISAKMP SA, hash(g^xi | g^xr) cut to the
// cipher block size (RFC 2409, Appendix B). gxi and gxr are the KE payload
// bodies of initiator and responder.
func Phase1IV(prf PRF, gxi, gxr []byte, blockSize int) []byte {
	return cut(prf.Hash(gxi, gxr), blockSize)
}

// Phase2IV returns the first IV of a Quick Mode or informational exchange,
// hash(last phase 1 CBC block | M-ID) cut to the block size (RFC 2409,
// Appendix B). lastBlock is the last ciphertext block of the final phase 1
// message (the phase 1 IV chain's current value); mid is the message ID.
func Phase2IV(prf PRF, lastBlock []byte, mid uint32, blockSize int) []byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], mid)
	return cut(prf.Hash(lastBlock, m[:]), blockSize)
}

// cut returns the first n bytes of b (all of b if it is shorter).
func cut(b []byte, n int) []byte {
	if n < len(b) && n >= 0 {
		return b[:n:n]
	}
	return b
}
