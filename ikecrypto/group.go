package ikecrypto

import (
	"errors"
	"fmt"
	"io"
)

// GroupID is the value of the phase 1 Group Description attribute and of the
// Quick Mode Group Description attribute for PFS (RFC 2409, Appendix A, class
// 4; RFC 2407, 4.5; later values from the IANA registry: RFC 3526, RFC 5114,
// RFC 5903, RFC 8031). Typed so that wire values print by name.
type GroupID uint16

// Diffie-Hellman group values (RFC 2409, Appendix A; IANA).
const (
	GroupMODP768      GroupID = 1
	GroupMODP1024     GroupID = 2
	GroupEC2N155      GroupID = 3
	GroupEC2N185      GroupID = 4
	GroupMODP1536     GroupID = 5
	GroupMODP2048     GroupID = 14
	GroupMODP3072     GroupID = 15
	GroupMODP4096     GroupID = 16
	GroupMODP6144     GroupID = 17
	GroupMODP8192     GroupID = 18
	GroupECP256       GroupID = 19
	GroupECP384       GroupID = 20
	GroupECP521       GroupID = 21
	GroupMODP1024S160 GroupID = 22
	GroupMODP2048S224 GroupID = 23
	GroupMODP2048S256 GroupID = 24
	GroupECP192       GroupID = 25
	GroupECP224       GroupID = 26
	GroupCurve25519   GroupID = 31
	GroupCurve448     GroupID = 32
)

// String returns the IANA description of g.
func (g GroupID) String() string {
	switch g {
	case GroupMODP768:
		return "768-bit MODP group"
	case GroupMODP1024:
		return "1024-bit MODP group"
	case GroupEC2N155:
		return "EC2N group on GP[2^155]"
	case GroupEC2N185:
		return "EC2N group on GP[2^185]"
	case GroupMODP1536:
		return "1536-bit MODP group"
	case GroupMODP2048:
		return "2048-bit MODP group"
	case GroupMODP3072:
		return "3072-bit MODP group"
	case GroupMODP4096:
		return "4096-bit MODP group"
	case GroupMODP6144:
		return "6144-bit MODP group"
	case GroupMODP8192:
		return "8192-bit MODP group"
	case GroupECP256:
		return "256-bit random ECP group"
	case GroupECP384:
		return "384-bit random ECP group"
	case GroupECP521:
		return "521-bit random ECP group"
	case GroupMODP1024S160:
		return "1024-bit MODP group with 160-bit prime order subgroup"
	case GroupMODP2048S224:
		return "2048-bit MODP group with 224-bit prime order subgroup"
	case GroupMODP2048S256:
		return "2048-bit MODP group with 256-bit prime order subgroup"
	case GroupECP192:
		return "192-bit random ECP group"
	case GroupECP224:
		return "224-bit random ECP group"
	case GroupCurve25519:
		return "Curve25519"
	case GroupCurve448:
		return "Curve448"
	}
	return fmt.Sprintf("GroupID(%d)", uint16(g))
}

// ErrInvalidPublic is returned by SharedSecret for a peer public value of the
// wrong length, out of range, outside the prime order subgroup or not on the
// curve. Phase 1 answers it with INVALID-KEY-INFORMATION rather than using it.
var ErrInvalidPublic = errors.New("ikecrypto: invalid Diffie-Hellman public value")

// ErrWiped is the error of a private key used after WipePrivateKey.
var ErrWiped = errors.New("ikecrypto: Diffie-Hellman private key wiped")

// WipePrivateKey overwrites what k holds of its private value, so that a
// removed SA leaves no DH secret behind longer than the garbage collector
// makes unavoidable; the key cannot compute a shared secret afterwards
// (ErrWiped). Best effort: a MODP exponent is zeroed in place; an ECP or
// Curve25519 key lives inside crypto/ecdh, which offers no way to clear
// it, so only the reference is dropped. Keys of other implementations
// (tests' recorded keys) are left alone.
func WipePrivateKey(k PrivateKey) {
	if w, ok := k.(interface{ wipe() }); ok {
		w.wipe()
	}
}

// Group is one Diffie-Hellman group. A Group is immutable and safe for
// concurrent use, so the daemon's worker pool shares one per group.
type Group interface {
	// ID returns the group's attribute value.
	ID() GroupID
	// PublicLen returns the exact length of the Key Exchange Data of a KE
	// payload for this group (RFC 2409, 5: MODP values are left-padded to
	// the modulus length; RFC 5903, 7: x | y for ECP).
	PublicLen() int
	// Generate draws a private key from rand (the injected random source).
	Generate(rand io.Reader) (PrivateKey, error)
}

// PrivateKey is one side's ephemeral Diffie-Hellman key.
type PrivateKey interface {
	// Group returns the group the key belongs to.
	Group() Group
	// PublicBytes returns the Key Exchange Data to send, PublicLen bytes.
	PublicBytes() []byte
	// SharedSecret validates peerPublic and returns g^xy as IKEv1 uses it:
	// left-padded to the modulus length for MODP groups, the x coordinate
	// for ECP groups (RFC 5903, 9), the X25519 output for Curve25519.
	SharedSecret(peerPublic []byte) ([]byte, error)
}

// NewGroup returns group id with the default private exponent length (see
// DefaultExponentBits), or an error wrapping ErrUnsupported.
func NewGroup(id GroupID) (Group, error) {
	return NewGroupExponent(id, 0)
}

// NewGroupExponent returns group id with a private exponent of expBits bits
// for the safe-prime MODP groups (1, 2, 5, 14-18); 0 selects the default. The
// setting is refused below twice the group's security strength (it would
// weaken the group) or above the modulus size. For groups 22-24 the exponent
// is drawn uniformly below q and for ECP groups below the order, so expBits
// must be 0 there.
func NewGroupExponent(id GroupID, expBits int) (Group, error) {
	if p := modpParamsFor(id); p != nil {
		return newMODPGroup(p, expBits)
	}
	if expBits != 0 {
		return nil, fmt.Errorf("%w: exponent length setting for %v", ErrUnsupported, id)
	}
	if g := ecdhGroupFor(id); g != nil {
		return g, nil
	}
	return nil, fmt.Errorf("%w: Diffie-Hellman group %v", ErrUnsupported, id)
}

// SupportedGroups lists every group NewGroup accepts, in attribute order, for
// configuration checks and the self-test.
func SupportedGroups() []GroupID {
	return []GroupID{
		GroupMODP768, GroupMODP1024, GroupMODP1536, GroupMODP2048, GroupMODP3072,
		GroupMODP4096, GroupMODP6144, GroupMODP8192, GroupECP256, GroupECP384,
		GroupECP521, GroupMODP1024S160, GroupMODP2048S224, GroupMODP2048S256,
		GroupCurve25519,
	}
}
