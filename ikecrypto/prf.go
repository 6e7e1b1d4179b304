package ikecrypto

import (
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
)

// ErrUnsupported is returned (wrapped) for an algorithm, group or key length
// this package does not implement; phase 1 and Quick Mode treat it as "no
// proposal chosen" rather than as an internal failure.
var ErrUnsupported = errors.New("ikecrypto: unsupported algorithm")

// PRF is the negotiated pseudo-random function of an ISAKMP SA together with
// the hash it is built from. RFC 2409 defines no PRF attribute values, so the
// PRF is always "the HMAC version of the negotiated hash function" (RFC 2409,
// 4 and Appendix B); the plain hash is needed for the phase 1 IV and NAT-D.
// It is an interface so that phase 1 can hold either the negotiated PRF or the
// curve-sized one strongSwan uses for ECDSA (see AuthPRF).
type PRF interface {
	// Algorithm returns the hash the PRF is built from.
	Algorithm() HashAlgorithm
	// Size returns the output length of both Compute and Hash, in bytes.
	Size() int
	// Compute returns prf(key, data[0] | data[1] | ...).
	Compute(key []byte, data ...[]byte) []byte
	// Hash returns hash(data[0] | data[1] | ...).
	Hash(data ...[]byte) []byte
}

// hmacPRF implements PRF with crypto/hmac.
type hmacPRF struct {
	alg     HashAlgorithm
	newHash func() hash.Hash
}

// NewPRF returns the HMAC PRF of h, or an error wrapping ErrUnsupported.
func NewPRF(h HashAlgorithm) (PRF, error) {
	f := h.newFunc()
	if f == nil {
		return nil, fmt.Errorf("%w: hash %v", ErrUnsupported, h)
	}
	return hmacPRF{alg: h, newHash: f}, nil
}

func (p hmacPRF) Algorithm() HashAlgorithm { return p.alg }

func (p hmacPRF) Size() int { return p.alg.Size() }

// Compute is HMAC (RFC 2104, 2) written out on a pooled hash, so that a
// PRF call allocates its result only: a handshake computes some twenty
// (SKEYID and its three children, the HASHes of Main and Quick Mode, NAT-D),
// and crypto/hmac's two hashes and state per call were a tenth of a
// responder's allocations (docs/performance.md).
func (p hmacPRF) Compute(key []byte, data ...[]byte) []byte {
	return p.appendMAC(make([]byte, 0, p.alg.Size()), key, data...)
}

// appendMAC appends HMAC(key, data...) to dst: Compute without a result
// of its own, for KEYMAT's blocks (keymat.go). dst may share memory with
// data below len(dst).
func (p hmacPRF) appendMAC(dst, key []byte, data ...[]byte) []byte {
	st := getHashState(p.alg, p.newHash)
	defer st.put()
	h := st.h
	bs := h.BlockSize()
	k := key
	if len(k) > bs {
		h.Reset()
		h.Write(k)
		k = h.Sum(st.kh[:0])
	}
	pad := st.pad[:bs]
	for i := range pad {
		pad[i] = ipad
	}
	for i, b := range k {
		pad[i] ^= b
	}
	h.Reset()
	h.Write(pad)
	for _, d := range data {
		h.Write(d)
	}
	inner := h.Sum(st.in[:0])
	for i := range pad {
		pad[i] ^= ipad ^ opad
	}
	h.Reset()
	h.Write(pad)
	h.Write(inner)
	return h.Sum(dst)
}

// compute is prf.Compute for this package's derivations. Through the
// interface, the variadic data of every call escapes to the heap, one
// object more per call; the HMAC PRF (the only one NewPRF returns) is
// called directly, which keeps it on the caller's stack.
func compute(prf PRF, key []byte, data ...[]byte) []byte {
	if h, ok := prf.(hmacPRF); ok {
		return h.Compute(key, data...)
	}
	return prf.Compute(key, slices.Clone(data)...)
}

func (p hmacPRF) Hash(data ...[]byte) []byte {
	st := getHashState(p.alg, p.newHash)
	defer st.put()
	h := st.h
	h.Reset()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(make([]byte, 0, h.Size()))
}

// RFC 2104, 2.
const (
	ipad = 0x36
	opad = 0x5c
)

// hashState is a hash with the scratch space of one HMAC: the key's pads,
// the inner digest and a long key's digest (128 and 64 bytes: SHA-512's
// block and digest, the largest of HashAlgorithm's).
type hashState struct {
	h    hash.Hash
	pool *sync.Pool
	pad  [128]byte
	in   [64]byte
	kh   [64]byte
}

// hashPools hold hashStates by algorithm, read-only after init.
var hashPools = map[HashAlgorithm]*sync.Pool{}

func init() {
	for _, a := range []HashAlgorithm{HashMD5, HashSHA1, HashSHA2_256, HashSHA2_384, HashSHA2_512} {
		hashPools[a] = &sync.Pool{}
	}
}

func getHashState(alg HashAlgorithm, newHash func() hash.Hash) *hashState {
	pool := hashPools[alg]
	if pool == nil { // not a HashAlgorithm NewPRF knows: no pool
		return &hashState{h: newHash()}
	}
	if st, ok := pool.Get().(*hashState); ok {
		return st
	}
	return &hashState{h: newHash(), pool: pool}
}

// put wipes the key material and returns st to its pool.
func (st *hashState) put() {
	st.h.Reset()
	clear(st.pad[:])
	clear(st.in[:])
	clear(st.kh[:])
	if st.pool != nil {
		st.pool.Put(st)
	}
}

// String names the PRF ("HMAC-SHA2-256") so that a log line says which PRF
// an SA derived its keys with.
func (p hmacPRF) String() string { return "HMAC-" + p.alg.String() }
