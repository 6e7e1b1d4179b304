package ikecrypto

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"filippo.io/bigmod"
)

// modpParams describes one MODP group. Security strengths follow NIST SP
// 800-57 Part 1 Rev. 5, Table 2 (1024: 80, 2048: 112, 3072: 128) and RFC 3526,
// 8 for the sizes NIST does not list; the default private exponent is at
// least twice the strength, rounded up to 256/384/512 bits:
//
//	group  modulus  strength  minimum exponent  default exponent
//	1      768      64        128               256
//	2      1024     80        160               256
//	5      1536     96        192               256
//	14     2048     112       224               256
//	15     3072     128       256               384
//	16     4096     152       304               384
//	17     6144     176       352               512
//	18     8192     200       400               512
//	22     1024     80        uniform below q (160 bits)
//	23     2048     112       uniform below q (224 bits)
//	24     2048     112       uniform below q (256 bits)
type modpParams struct {
	id         GroupID
	pHex       string
	gHex       string // "" means g = 2
	qHex       string // "" for safe primes; else the prime subgroup order (RFC 5114)
	strength   int
	defaultExp int

	once sync.Once
	p    *bigmod.Modulus
	g    *bigmod.Nat
	q    *bigmod.Modulus // nil for safe primes
	qRaw []byte
	err  error
}

var modpTable = []*modpParams{
	{id: GroupMODP768, pHex: modp768P, strength: 64, defaultExp: 256},
	{id: GroupMODP1024, pHex: modp1024P, strength: 80, defaultExp: 256},
	{id: GroupMODP1536, pHex: modp1536P, strength: 96, defaultExp: 256},
	{id: GroupMODP2048, pHex: modp2048P, strength: 112, defaultExp: 256},
	{id: GroupMODP3072, pHex: modp3072P, strength: 128, defaultExp: 384},
	{id: GroupMODP4096, pHex: modp4096P, strength: 152, defaultExp: 384},
	{id: GroupMODP6144, pHex: modp6144P, strength: 176, defaultExp: 512},
	{id: GroupMODP8192, pHex: modp8192P, strength: 200, defaultExp: 512},
	{id: GroupMODP1024S160, pHex: modp1024s160P, gHex: modp1024s160G, qHex: modp1024s160Q, strength: 80},
	{id: GroupMODP2048S224, pHex: modp2048s224P, gHex: modp2048s224G, qHex: modp2048s224Q, strength: 112},
	{id: GroupMODP2048S256, pHex: modp2048s256P, gHex: modp2048s256G, qHex: modp2048s256Q, strength: 112},
}

func modpParamsFor(id GroupID) *modpParams {
	for _, p := range modpTable {
		if p.id == id {
			return p
		}
	}
	return nil
}

// DefaultExponentBits returns the default private exponent length of a
// safe-prime MODP group, and 0 for every other group (whose exponents are
// drawn below the group order).
func DefaultExponentBits(id GroupID) int {
	if p := modpParamsFor(id); p != nil && p.qHex == "" {
		return p.defaultExp
	}
	return 0
}

// MinExponentBits returns twice the security strength of a safe-prime MODP
// group, the least exponent length NewGroupExponent accepts; 0 otherwise.
func MinExponentBits(id GroupID) int {
	if p := modpParamsFor(id); p != nil && p.qHex == "" {
		return 2 * p.strength
	}
	return 0
}

// init parses the hex constants once; a failure here is a build defect that
// the self-test reports as message 6.
func (mp *modpParams) init() error {
	mp.once.Do(func() {
		raw, err := hex.DecodeString(mp.pHex)
		if err != nil {
			mp.err = err
			return
		}
		if mp.p, err = bigmod.NewModulus(raw); err != nil {
			mp.err = err
			return
		}
		gRaw := []byte{2}
		if mp.gHex != "" {
			if gRaw, err = hex.DecodeString(mp.gHex); err != nil {
				mp.err = err
				return
			}
		}
		if mp.g, err = bigmod.NewNat().SetBytes(gRaw, mp.p); err != nil {
			mp.err = err
			return
		}
		if mp.qHex != "" {
			if mp.qRaw, err = hex.DecodeString(mp.qHex); err != nil {
				mp.err = err
				return
			}
			if mp.q, err = bigmod.NewModulus(mp.qRaw); err != nil {
				mp.err = err
				return
			}
		}
	})
	if mp.err != nil {
		return fmt.Errorf("ikecrypto: parameters of %v: %w", mp.id, mp.err)
	}
	return nil
}

// modpGroup is a MODP group with its exponent length setting.
type modpGroup struct {
	params  *modpParams
	expBits int // 0 for groups with a subgroup order
}

func newMODPGroup(mp *modpParams, expBits int) (Group, error) {
	if err := mp.init(); err != nil {
		return nil, err
	}
	if mp.q != nil {
		if expBits != 0 {
			return nil, fmt.Errorf("%w: exponent length setting for %v", ErrUnsupported, mp.id)
		}
		return &modpGroup{params: mp}, nil
	}
	if expBits == 0 {
		expBits = mp.defaultExp
	}
	if expBits < 2*mp.strength || expBits >= mp.p.BitLen() || expBits%8 != 0 {
		return nil, fmt.Errorf("%w: %d-bit exponent for %v (want a multiple of 8 from %d to %d)",
			ErrUnsupported, expBits, mp.id, 2*mp.strength, mp.p.BitLen()-1)
	}
	return &modpGroup{params: mp, expBits: expBits}, nil
}

func (g *modpGroup) ID() GroupID { return g.params.id }

func (g *modpGroup) PublicLen() int { return g.params.p.Size() }

// ExponentBits returns the private exponent length in use (0 when the
// exponent is drawn below q), for the daemon's start-up log.
func (g *modpGroup) ExponentBits() int { return g.expBits }

// maxDraws bounds rejection sampling; a good source fails it with
// probability below 2^-64.
const maxDraws = 64

func (g *modpGroup) Generate(rand io.Reader) (PrivateKey, error) {
	mp := g.params
	var x []byte
	if mp.q != nil {
		// Uniform in [1, q-1] (RFC 5114, 3 / NIST SP 800-56A 5.6.1.1).
		buf := make([]byte, len(mp.qRaw))
		for range maxDraws {
			if _, err := io.ReadFull(rand, buf); err != nil {
				return nil, fmt.Errorf("ikecrypto: %v key: %w", mp.id, err)
			}
			n, err := bigmod.NewNat().SetBytes(buf, mp.q)
			if err == nil && n.IsZero() == 0 {
				x = n.Bytes(mp.q)
				break
			}
		}
		clear(buf) // the draw is the exponent: only x keeps it
		if x == nil {
			return nil, fmt.Errorf("ikecrypto: %v key: random source is biased", mp.id)
		}
	} else {
		x = make([]byte, g.expBits/8)
		if _, err := io.ReadFull(rand, x); err != nil {
			return nil, fmt.Errorf("ikecrypto: %v key: %w", mp.id, err)
		}
		x[0] |= 0x80 // full length, so the exponent is never short
	}
	return newMODPKey(g, x), nil
}

// newMODPKey computes the public value g^x mod p for the exponent x.
func newMODPKey(g *modpGroup, x []byte) *modpKey {
	mp := g.params
	y := bigmod.NewNat().Exp(mp.g, x, mp.p)
	return &modpKey{group: g, x: x, pub: y.Bytes(mp.p)}
}

// modpKey is a MODP private key; x is the big-endian exponent, nil once
// wiped.
type modpKey struct {
	group *modpGroup
	x     []byte
	pub   []byte
}

// wipe zeroes the exponent (WipePrivateKey).
func (k *modpKey) wipe() {
	clear(k.x)
	k.x = nil
}

func (k *modpKey) Group() Group { return k.group }

func (k *modpKey) PublicBytes() []byte { return append([]byte(nil), k.pub...) }

// SharedSecret checks 1 < y < p-1 (RFC 2631, 2.1.5 / NIST SP 800-56A
// 5.6.2.3.1) and, for groups with a prime order subgroup, y^q = 1 (RFC 5114,
// 4; RFC 2631, 2.1.5), then returns y^x mod p left-padded to the modulus
// length (RFC 2409, 5: g^xy is the padded value).
func (k *modpKey) SharedSecret(peer []byte) ([]byte, error) {
	mp := k.group.params
	if k.x == nil {
		return nil, ErrWiped
	}
	if len(peer) != mp.p.Size() {
		return nil, ErrInvalidPublic
	}
	y, err := bigmod.NewNat().SetBytes(peer, mp.p)
	if err != nil {
		return nil, ErrInvalidPublic
	}
	if y.IsZero()|y.IsOne()|y.IsMinusOne(mp.p) != 0 {
		return nil, ErrInvalidPublic
	}
	if mp.q != nil {
		if bigmod.NewNat().Exp(y, mp.qRaw, mp.p).IsOne() != 1 {
			return nil, ErrInvalidPublic
		}
	}
	z := bigmod.NewNat().Exp(y, k.x, mp.p).Bytes(mp.p)
	// A valid y cannot give z = 1 in a safe-prime group, nor in a prime
	// order subgroup; check anyway so a parameter defect cannot leak.
	one := make([]byte, len(z))
	one[len(one)-1] = 1
	if subtle.ConstantTimeCompare(z, one) == 1 {
		return nil, ErrInvalidPublic
	}
	return z, nil
}
