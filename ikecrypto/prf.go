package ikecrypto

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
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

func (p hmacPRF) Compute(key []byte, data ...[]byte) []byte {
	m := hmac.New(p.newHash, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func (p hmacPRF) Hash(data ...[]byte) []byte {
	h := p.newHash()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// String names the PRF ("HMAC-SHA2-256") so that a log line says which PRF
// an SA derived its keys with.
func (p hmacPRF) String() string { return "HMAC-" + p.alg.String() }
