package ikecrypto

import (
	"bufio"
	"math/big"
	"os"
	"strings"
	"testing"
)

// piFixed returns floor(pi * 2^bits), computed with Machin's formula
// pi = 16 atan(1/5) - 4 atan(1/239) in fixed point with guard bits.
func piFixed(bits uint) *big.Int {
	const guard = 64
	one := new(big.Int).Lsh(big.NewInt(1), bits+guard)
	atanInv := func(x int64) *big.Int {
		// atan(1/x) = sum (-1)^k / ((2k+1) x^(2k+1))
		sum := new(big.Int)
		xx := big.NewInt(x * x)
		pow := new(big.Int).Quo(one, big.NewInt(x))
		term := new(big.Int)
		for k := int64(0); pow.Sign() != 0; k++ {
			term.Quo(pow, big.NewInt(2*k+1))
			if k%2 == 0 {
				sum.Add(sum, term)
			} else {
				sum.Sub(sum, term)
			}
			pow.Quo(pow, xx)
		}
		return sum
	}
	pi := new(big.Int).Mul(atanInv(5), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(atanInv(239), big.NewInt(4)))
	return pi.Rsh(pi, guard)
}

// TestOakleyPrimesFromPi re-derives each safe prime from its definition,
// p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) (RFC 2409, 6.1-6.2;
// RFC 3526, 2-7), so that no digit of the constants rests on copying alone.
func TestOakleyPrimesFromPi(t *testing.T) {
	pi := piFixed(8192 - 130)
	for _, c := range []struct {
		id   GroupID
		n    uint
		k    int64
		pHex string
	}{
		{GroupMODP768, 768, 149686, modp768P},
		{GroupMODP1024, 1024, 129093, modp1024P},
		{GroupMODP1536, 1536, 741804, modp1536P},
		{GroupMODP2048, 2048, 124476, modp2048P},
		{GroupMODP3072, 3072, 1690314, modp3072P},
		{GroupMODP4096, 4096, 240904, modp4096P},
		{GroupMODP6144, 6144, 929484, modp6144P},
		{GroupMODP8192, 8192, 4743158, modp8192P},
	} {
		one := big.NewInt(1)
		p := new(big.Int).Lsh(one, c.n)
		p.Sub(p, new(big.Int).Lsh(one, c.n-64))
		p.Sub(p, one)
		f := new(big.Int).Rsh(pi, 8192-c.n) // [2^(n-130) pi]
		f.Add(f, big.NewInt(c.k))
		p.Add(p, f.Lsh(f, 64))
		want, _ := new(big.Int).SetString(c.pHex, 16)
		if p.Cmp(want) != 0 {
			t.Errorf("%v: prime constant differs from its definition", c.id)
		}
	}
}

// TestMODPParamsMatchOpenSSL compares the constants with OpenSSL's named
// groups (testdata/openssl-dh-params.txt, dumped with openssl asn1parse).
func TestMODPParamsMatchOpenSSL(t *testing.T) {
	f, err := os.Open("testdata/openssl-dh-params.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]GroupID{
		"modp_1536": GroupMODP1536, "modp_2048": GroupMODP2048, "modp_3072": GroupMODP3072,
		"modp_4096": GroupMODP4096, "modp_6144": GroupMODP6144, "modp_8192": GroupMODP8192,
		"dh_1024_160": GroupMODP1024S160, "dh_2048_224": GroupMODP2048S224, "dh_2048_256": GroupMODP2048S256,
	}
	seen := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<16)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		mp := modpParamsFor(names[fs[0]])
		if mp == nil {
			t.Fatalf("unknown group %s", fs[0])
		}
		var got string
		switch fs[1] {
		case "p":
			got = mp.pHex
		case "g":
			got = mp.gHex
			if got == "" {
				got = "02"
			}
		case "q":
			got = mp.qHex
			if got == "" { // safe prime: q = (p-1)/2
				p, _ := new(big.Int).SetString(mp.pHex, 16)
				got = new(big.Int).Rsh(p, 1).Text(16)
			}
		}
		a, _ := new(big.Int).SetString(got, 16)
		b, _ := new(big.Int).SetString(fs[2], 16)
		if a == nil || b == nil || a.Cmp(b) != 0 {
			t.Errorf("%s %s differs from OpenSSL", fs[0], fs[1])
		}
		seen++
	}
	if seen != 27 {
		t.Errorf("compared %d values, want 27", seen)
	}
}

// TestSubgroupParams checks RFC 5114's structure: q prime, q | p-1, g^q = 1.
func TestSubgroupParams(t *testing.T) {
	for _, id := range []GroupID{GroupMODP1024S160, GroupMODP2048S224, GroupMODP2048S256} {
		mp := modpParamsFor(id)
		p, _ := new(big.Int).SetString(mp.pHex, 16)
		g, _ := new(big.Int).SetString(mp.gHex, 16)
		q, _ := new(big.Int).SetString(mp.qHex, 16)
		if !q.ProbablyPrime(20) || !p.ProbablyPrime(5) {
			t.Errorf("%v: p or q not prime", id)
		}
		if new(big.Int).Mod(new(big.Int).Sub(p, big.NewInt(1)), q).Sign() != 0 {
			t.Errorf("%v: q does not divide p-1", id)
		}
		if new(big.Int).Exp(g, q, p).Cmp(big.NewInt(1)) != 0 {
			t.Errorf("%v: g^q != 1", id)
		}
	}
}
