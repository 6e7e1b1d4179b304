package ikecrypto

import (
	"testing"
	"time"
)

func TestSelfTest(t *testing.T) {
	start := time.Now()
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
	// The daemon runs it at every start; keep it cheap (the brief: < 50 ms).
	// The first call includes parsing the group constants.
	t.Logf("SelfTest took %v", time.Since(start))
	start = time.Now()
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SelfTest (warm) took %v", time.Since(start))
}

// TestSelfTestDetectsCorruption proves each check can fail: a wrong answer
// in any entry makes the whole self-test fail and names the entry.
func TestSelfTestDetectsCorruption(t *testing.T) {
	for i, k := range selfTestKATs() {
		kats := selfTestKATs()
		w := []byte(kats[i].want)
		if w[0] == '0' {
			w[0] = '1'
		} else {
			w[0] = '0'
		}
		kats[i].want = string(w)
		err := runSelfTest(kats)
		if err == nil {
			t.Errorf("%s: corrupted answer not detected", k.name)
		}
	}
}

func BenchmarkSelfTest(b *testing.B) {
	for b.Loop() {
		if err := SelfTest(); err != nil {
			b.Fatal(err)
		}
	}
}
