package ikecrypto

import (
	"crypto/ecdh"
	"fmt"
	"io"
)

// ecdhGroup is an elliptic curve group backed by crypto/ecdh: the NIST ECP
// groups of RFC 5903 and Curve25519 (RFC 8031, used for IKEv1 by strongSwan).
type ecdhGroup struct {
	id     GroupID
	curve  ecdh.Curve
	scalar int  // private scalar length in bytes
	top    byte // mask of the scalar's most significant byte
	nist   bool // RFC 5903 encoding: x | y without the 0x04 prefix
	pubLen int
}

var (
	groupECP256     = &ecdhGroup{id: GroupECP256, curve: ecdh.P256(), scalar: 32, top: 0xff, nist: true, pubLen: 64}
	groupECP384     = &ecdhGroup{id: GroupECP384, curve: ecdh.P384(), scalar: 48, top: 0xff, nist: true, pubLen: 96}
	groupECP521     = &ecdhGroup{id: GroupECP521, curve: ecdh.P521(), scalar: 66, top: 0x01, nist: true, pubLen: 132}
	groupCurve25519 = &ecdhGroup{id: GroupCurve25519, curve: ecdh.X25519(), scalar: 32, top: 0xff, pubLen: 32}
)

func ecdhGroupFor(id GroupID) *ecdhGroup {
	switch id {
	case GroupECP256:
		return groupECP256
	case GroupECP384:
		return groupECP384
	case GroupECP521:
		return groupECP521
	case GroupCurve25519:
		return groupCurve25519
	}
	return nil
}

func (g *ecdhGroup) ID() GroupID    { return g.id }
func (g *ecdhGroup) PublicLen() int { return g.pubLen }

// Generate draws the scalar from rand itself rather than calling
// Curve.GenerateKey, which since Go 1.26 ignores the reader it is given: the
// daemon's tests inject the random source to pin keys.
func (g *ecdhGroup) Generate(rand io.Reader) (PrivateKey, error) {
	buf := make([]byte, g.scalar)
	for range maxDraws {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("ikecrypto: %v key: %w", g.id, err)
		}
		buf[0] &= g.top
		// NewPrivateKey rejects zero and scalars >= the order (NIST
		// curves); any 32 bytes are an X25519 key (RFC 7748, 5).
		priv, err := g.curve.NewPrivateKey(buf)
		if err == nil {
			clear(buf) // crypto/ecdh keeps its own copy
			return &ecdhKey{group: g, priv: priv}, nil
		}
	}
	clear(buf)
	return nil, fmt.Errorf("ikecrypto: %v key: random source is biased", g.id)
}

// NewPrivateKeyFromBytes returns the private key of an ECP group or
// Curve25519 with the given scalar; it exists for known-answer tests (RFC
// 5903, 8; RFC 7748, 6.1), not for the daemon.
func NewPrivateKeyFromBytes(id GroupID, scalar []byte) (PrivateKey, error) {
	g := ecdhGroupFor(id)
	if g == nil {
		return nil, fmt.Errorf("%w: fixed private key for %v", ErrUnsupported, id)
	}
	priv, err := g.curve.NewPrivateKey(scalar)
	if err != nil {
		return nil, fmt.Errorf("ikecrypto: %v key: %w", id, err)
	}
	return &ecdhKey{group: g, priv: priv}, nil
}

// ecdhKey is an ECP or Curve25519 private key; priv is nil once wiped.
type ecdhKey struct {
	group *ecdhGroup
	priv  *ecdh.PrivateKey
}

// wipe drops the key (WipePrivateKey): crypto/ecdh cannot clear its copy
// of the scalar, so this is all that can be done here.
func (k *ecdhKey) wipe() { k.priv = nil }

func (k *ecdhKey) Group() Group { return k.group }

// PublicBytes strips the 0x04 uncompressed-point prefix for the NIST curves:
// RFC 5903, 7 sends x | y, each left-padded to the field size.
func (k *ecdhKey) PublicBytes() []byte {
	if k.priv == nil {
		return nil
	}
	b := k.priv.PublicKey().Bytes()
	if k.group.nist {
		return append([]byte(nil), b[1:]...)
	}
	return b
}

// SharedSecret returns the x coordinate of the shared point for ECP groups
// (RFC 5903, 9: only x is used, unlike RFC 4753) and the X25519
// output for Curve25519. crypto/ecdh rejects points off the curve, the
// point at infinity and low-order X25519 inputs (an all-zero result).
func (k *ecdhKey) SharedSecret(peer []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, ErrWiped
	}
	if len(peer) != k.group.pubLen {
		return nil, ErrInvalidPublic
	}
	raw := peer
	if k.group.nist {
		raw = make([]byte, 1+len(peer))
		raw[0] = 4
		copy(raw[1:], peer)
	}
	pub, err := k.group.curve.NewPublicKey(raw)
	if err != nil {
		return nil, ErrInvalidPublic
	}
	z, err := k.priv.ECDH(pub)
	if err != nil {
		return nil, ErrInvalidPublic
	}
	return z, nil
}
