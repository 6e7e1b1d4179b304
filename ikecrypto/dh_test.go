package ikecrypto

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

type dhVector struct {
	name                       string
	group                      GroupID
	xi, xr, pubI, pubR, shared []byte
}

// loadDHVectors reads testdata/rfc-dh-vectors.txt.
func loadDHVectors(t *testing.T) []dhVector {
	t.Helper()
	f, err := os.Open("testdata/rfc-dh-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dhVector
	var cur *dhVector
	var key string
	fields := map[string]*strings.Builder{}
	flush := func() {
		if cur == nil {
			return
		}
		get := func(k string) []byte {
			b := unhex(fields[k].String())
			if b == nil {
				t.Fatalf("%s: bad or missing %s", cur.name, k)
			}
			return b
		}
		cur.xi, cur.xr, cur.pubI, cur.pubR, cur.shared = get("xi"), get("xr"), get("pubi"), get("pubr"), get("shared")
		out = append(out, *cur)
		cur = nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "vector "):
			cur = &dhVector{name: strings.TrimPrefix(line, "vector ")}
			fields = map[string]*strings.Builder{}
		case line == "end":
			flush()
		case strings.HasPrefix(line, "group "):
			n, _ := strconv.Atoi(strings.TrimPrefix(line, "group "))
			cur.group = GroupID(n)
		case strings.HasPrefix(line, "\t"):
			fields[key].WriteString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
		default:
			k, v, _ := strings.Cut(line, "\t")
			key = k
			fields[key] = &strings.Builder{}
			fields[key].WriteString(strings.ReplaceAll(v, " ", ""))
		}
	}
	if len(out) < 8 {
		t.Fatalf("only %d DH vectors", len(out))
	}
	return out
}

// fixedKey builds a private key with a given exponent or scalar.
func fixedKey(t *testing.T, id GroupID, x []byte) PrivateKey {
	t.Helper()
	if mp := modpParamsFor(id); mp != nil {
		g, err := NewGroup(id)
		if err != nil {
			t.Fatal(err)
		}
		return newMODPKey(g.(*modpGroup), x)
	}
	k, err := NewPrivateKeyFromBytes(id, x)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRFCDHVectors(t *testing.T) {
	for _, v := range loadDHVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			ki, kr := fixedKey(t, v.group, v.xi), fixedKey(t, v.group, v.xr)
			expect(t, "public i", ki.PublicBytes(), v.pubI)
			expect(t, "public r", kr.PublicBytes(), v.pubR)
			if got := ki.Group().PublicLen(); got != len(v.pubI) {
				t.Errorf("PublicLen %d, vector has %d", got, len(v.pubI))
			}
			zi, err := ki.SharedSecret(v.pubR)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := kr.SharedSecret(v.pubI)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "shared i", zi, v.shared)
			expect(t, "shared r", zr, v.shared)
		})
	}
}

func TestGroupsRoundTrip(t *testing.T) {
	for _, id := range SupportedGroups() {
		t.Run(id.String(), func(t *testing.T) {
			g, err := NewGroup(id)
			if err != nil {
				t.Fatal(err)
			}
			if g.ID() != id {
				t.Errorf("ID() = %v", g.ID())
			}
			a, err := g.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			b, err := g.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.PublicBytes()) != g.PublicLen() {
				t.Errorf("public value %d bytes, PublicLen %d", len(a.PublicBytes()), g.PublicLen())
			}
			za, err := a.SharedSecret(b.PublicBytes())
			if err != nil {
				t.Fatal(err)
			}
			zb, err := b.SharedSecret(a.PublicBytes())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(za, zb) {
				t.Fatal("shared secrets differ")
			}
			if bytes.Equal(a.PublicBytes(), b.PublicBytes()) {
				t.Fatal("two keys from crypto/rand are equal")
			}
		})
	}
}

// TestGenerateUsesInjectedRand pins keys with a deterministic reader, as the
// daemon's tests do.
func TestGenerateUsesInjectedRand(t *testing.T) {
	for _, id := range SupportedGroups() {
		g, _ := NewGroup(id)
		k1, err1 := g.Generate(mrand.NewChaCha8([32]byte{1}))
		k2, err2 := g.Generate(mrand.NewChaCha8([32]byte{1}))
		k3, err3 := g.Generate(mrand.NewChaCha8([32]byte{2}))
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k1.PublicBytes(), k2.PublicBytes()) || bytes.Equal(k1.PublicBytes(), k3.PublicBytes()) {
			t.Errorf("%v: Generate does not follow the injected reader", id)
		}
	}
}

func TestGenerateShortRead(t *testing.T) {
	for _, id := range SupportedGroups() {
		g, _ := NewGroup(id)
		if _, err := g.Generate(io.LimitReader(rand.Reader, 3)); err == nil {
			t.Errorf("%v: Generate succeeded on a 3-byte reader", id)
		}
	}
}

func TestExponentSetting(t *testing.T) {
	for _, mp := range modpTable {
		if mp.qHex != "" {
			if DefaultExponentBits(mp.id) != 0 || MinExponentBits(mp.id) != 0 {
				t.Errorf("%v: exponent setting reported for a subgroup group", mp.id)
			}
			if _, err := NewGroupExponent(mp.id, 256); !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v: exponent setting accepted: %v", mp.id, err)
			}
			continue
		}
		def, min := DefaultExponentBits(mp.id), MinExponentBits(mp.id)
		if def < min || min != 2*mp.strength {
			t.Errorf("%v: default %d, minimum %d, strength %d", mp.id, def, min, mp.strength)
		}
		for _, c := range []struct {
			bits int
			ok   bool
		}{{0, true}, {min, true}, {min - 8, false}, {min + 4, false}, {512, min <= 512}, {mp.p.BitLen(), false}} {
			g, err := NewGroupExponent(mp.id, c.bits)
			if (err == nil) != c.ok {
				t.Errorf("%v with %d-bit exponent: err = %v, want ok=%v", mp.id, c.bits, err, c.ok)
				continue
			}
			if err != nil {
				continue
			}
			want := c.bits
			if want == 0 {
				want = def
			}
			k, _ := g.Generate(rand.Reader)
			x := k.(*modpKey).x
			if len(x)*8 != want || x[0]&0x80 == 0 {
				t.Errorf("%v: exponent is %d bytes (top %#x), want %d bits", mp.id, len(x), x[0], want)
			}
		}
	}
	for _, id := range []GroupID{GroupECP256, GroupCurve25519} {
		if _, err := NewGroupExponent(id, 256); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%v: exponent setting accepted", id)
		}
	}
	for _, id := range []GroupID{GroupEC2N155, GroupEC2N185, GroupECP192, GroupECP224, GroupCurve448, 0, 99} {
		if _, err := NewGroup(id); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%v: NewGroup err = %v", id, err)
		}
	}
}

// TestInvalidPublicValues: 1 < y < p-1, y in the subgroup, exact length,
// point on the curve; all refused with ErrInvalidPublic.
func TestInvalidPublicValues(t *testing.T) {
	for _, id := range SupportedGroups() {
		g, _ := NewGroup(id)
		k, _ := g.Generate(rand.Reader)
		n := g.PublicLen()
		valid := k.PublicBytes()
		bad := map[string][]byte{
			"empty":    nil,
			"short":    valid[:n-1],
			"long":     append([]byte{0}, valid...),
			"all zero": make([]byte, n),
		}
		if mp := modpParamsFor(id); mp != nil {
			p := new(big.Int).SetBytes(unhex(mp.pHex))
			one := big.NewInt(1)
			bad["one"] = one.FillBytes(make([]byte, n))
			bad["p-1"] = new(big.Int).Sub(p, one).FillBytes(make([]byte, n))
			bad["p"] = p.FillBytes(make([]byte, n))
			bad["p+1"] = new(big.Int).Add(p, one).FillBytes(make([]byte, n))
			bad["all ones"] = bytes.Repeat([]byte{0xff}, n)
			if mp.qHex != "" {
				// 2 is in [2, p-2] but (for these groups) not of order q.
				bad["outside subgroup"] = big.NewInt(2).FillBytes(make([]byte, n))
				// The unpadded value must be refused too (RFC 2409, 5).
				bad["unpadded"] = valid[1:]
			}
		} else if id != GroupCurve25519 {
			off := append([]byte(nil), valid...)
			off[n-1] ^= 1 // y changed: off the curve
			bad["off curve"] = off
			bad["all ones"] = bytes.Repeat([]byte{0xff}, n)
		} else {
			// RFC 7748, 6.1: a low-order point gives an all-zero output.
			one := make([]byte, 32)
			one[0] = 1
			bad["order 1 point"] = one
		}
		for name, v := range bad {
			if _, err := k.SharedSecret(v); !errors.Is(err, ErrInvalidPublic) {
				t.Errorf("%v: %s public value: err = %v", id, name, err)
			}
		}
	}
}

// FuzzSharedSecret feeds arbitrary peer values to every group; the seeds run
// as a unit test, "go test -fuzz FuzzSharedSecret" explores further.
func FuzzSharedSecret(f *testing.F) {
	keys := map[GroupID]PrivateKey{}
	for _, id := range SupportedGroups() {
		g, _ := NewGroup(id)
		k, err := g.Generate(mrand.NewChaCha8([32]byte{byte(id)}))
		if err != nil {
			f.Fatal(err)
		}
		keys[id] = k
		f.Add(uint16(id), k.PublicBytes())
		f.Add(uint16(id), make([]byte, g.PublicLen()))
		f.Add(uint16(id), bytes.Repeat([]byte{0xff}, g.PublicLen()))
	}
	f.Add(uint16(0), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, id uint16, peer []byte) {
		ids := SupportedGroups()
		k := keys[ids[int(id)%len(ids)]]
		z, err := k.SharedSecret(peer)
		if err == nil && len(z) == 0 {
			t.Fatal("empty shared secret without error")
		}
		if err != nil && !errors.Is(err, ErrInvalidPublic) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func TestGroupIDString(t *testing.T) {
	for _, c := range []struct {
		id   GroupID
		want string
	}{{2, "1024-bit MODP group"}, {14, "2048-bit MODP group"}, {19, "256-bit random ECP group"}, {31, "Curve25519"}, {99, "GroupID(99)"}} {
		if got := c.id.String(); got != c.want {
			t.Errorf("%d: %q, want %q", c.id, got, c.want)
		}
	}
}

func BenchmarkDH(b *testing.B) {
	for _, id := range SupportedGroups() {
		g, _ := NewGroup(id)
		peer, _ := g.Generate(rand.Reader)
		pub := peer.PublicBytes()
		b.Run(strconv.Itoa(int(id)), func(b *testing.B) {
			for b.Loop() {
				k, err := g.Generate(rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.SharedSecret(pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWipePrivateKey: a wiped MODP key's exponent bytes are zero (the
// slice the key owned, read before wiping), and no wiped key computes a
// shared secret or leaks a public value any more.
func TestWipePrivateKey(t *testing.T) {
	for _, id := range []GroupID{GroupMODP2048, GroupMODP2048S256, GroupECP256, GroupCurve25519} {
		t.Run(id.String(), func(t *testing.T) {
			g, err := NewGroup(id)
			if err != nil {
				t.Fatal(err)
			}
			k, err := g.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peer, err := g.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.SharedSecret(peer.PublicBytes()); err != nil {
				t.Fatal(err)
			}
			var x []byte
			if m, ok := k.(*modpKey); ok {
				x = m.x
				if bytes.Equal(x, make([]byte, len(x))) {
					t.Fatal("exponent zero before wiping")
				}
			}
			WipePrivateKey(k)
			if x != nil && !bytes.Equal(x, make([]byte, len(x))) {
				t.Errorf("exponent left after wiping: %x", x)
			}
			if _, err := k.SharedSecret(peer.PublicBytes()); !errors.Is(err, ErrWiped) {
				t.Errorf("shared secret after wiping: %v", err)
			}
			if e, ok := k.(*ecdhKey); ok && (e.priv != nil || e.PublicBytes() != nil) {
				t.Error("ECDH key still referenced after wiping")
			}
		})
	}
}
