package ikecrypto

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// HashAlgorithm is the value of the phase 1 Hash Algorithm attribute (RFC
// 2409, Appendix A, attribute class 2; values 4-6 from the IANA "IPSEC
// Security Association Attributes" registry, RFC 4868). It is typed so that a
// value read off the wire prints as its RFC name in logs.
type HashAlgorithm uint16

// Phase 1 hash algorithm values (RFC 2409, Appendix A; IANA).
const (
	HashMD5      HashAlgorithm = 1
	HashSHA1     HashAlgorithm = 2
	HashTiger    HashAlgorithm = 3
	HashSHA2_256 HashAlgorithm = 4
	HashSHA2_384 HashAlgorithm = 5
	HashSHA2_512 HashAlgorithm = 6
)

// String returns the registry name of h, so that logs and errors name the
// algorithm as the RFCs do.
func (h HashAlgorithm) String() string {
	switch h {
	case HashMD5:
		return "MD5"
	case HashSHA1:
		return "SHA"
	case HashTiger:
		return "Tiger"
	case HashSHA2_256:
		return "SHA2-256"
	case HashSHA2_384:
		return "SHA2-384"
	case HashSHA2_512:
		return "SHA2-512"
	}
	return fmt.Sprintf("HashAlgorithm(%d)", uint16(h))
}

// Supported reports whether this package implements h, so that proposal
// selection can skip a transform before any key is derived.
func (h HashAlgorithm) Supported() bool {
	return h.newFunc() != nil
}

// Size returns the output length of h in bytes, or 0 if h is not supported.
func (h HashAlgorithm) Size() int {
	switch h {
	case HashMD5:
		return md5.Size
	case HashSHA1:
		return sha1.Size
	case HashSHA2_256:
		return sha256.Size
	case HashSHA2_384:
		return sha512.Size384
	case HashSHA2_512:
		return sha512.Size
	}
	return 0
}

// newFunc returns the constructor for h, or nil if h is not supported (Tiger
// and every unassigned value).
func (h HashAlgorithm) newFunc() func() hash.Hash {
	switch h {
	case HashMD5:
		return md5.New
	case HashSHA1:
		return sha1.New
	case HashSHA2_256:
		return sha256.New
	case HashSHA2_384:
		return sha512.New384
	case HashSHA2_512:
		return sha512.New
	}
	return nil
}
