package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/policymgr"
)

// TestManualKeys: the manually keyed connections of examples/manual-keys.yaml
// are in the engine after the start (SAs with the file's SPIs and keys,
// and their policies), a reload that changes one key replaces that
// connection's SAs and leaves the policies as they were, and the stop
// removes everything.
func TestManualKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		text, err := os.ReadFile("../examples/manual-keys.yaml")
		if err != nil {
			t.Fatal(err)
		}
		v1 := strings.Replace(string(text), "  engine: xfrm\n", "  engine: none\n  listen: [\"192.0.2.1\"]\n", 1)
		file := filepath.Join(t.TempDir(), "manual.yaml")
		if err := os.WriteFile(file, []byte(v1), 0o600); err != nil {
			t.Fatal(err)
		}
		h := startHarness(t, Options{ConfigFile: file, Load: PolicyLoader(policymgr.LoadOptions{})}, nil)
		d, mb := h.d, h.eng
		keys := func() map[uint32]string {
			m := map[uint32]string{}
			for _, r := range mb.SAs() {
				k := ""
				if r.SA.Encryption != nil {
					k = string(r.SA.Encryption.Key)
				}
				if r.SA.Integrity != nil {
					k += "/" + string(r.SA.Integrity.Key)
				}
				m[r.Ref.SPI] = k
			}
			return m
		}
		got := keys()
		if len(got) != 6 {
			t.Fatalf("%d SAs after the start, want 6 (esp both ways, ah+esp both ways): %v\n%s", len(got), got, h.log)
		}
		for _, spi := range []uint32{0x1000, 0x1001, 0x2000, 0x2001, 0x2002, 0x2003} {
			if _, ok := got[spi]; !ok {
				t.Errorf("no SA with SPI 0x%x", spi)
			}
		}
		if got[0x1000] != "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff/\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67" {
			t.Errorf("SA 0x1000 has keys %x", got[0x1000])
		}
		pols := mb.Policies()
		if len(pols) != 5 { // transport out+in, tunnel out+in+fwd
			t.Fatalf("%d policies, want 5: %v", len(pols), pols)
		}

		// A new inbound cipher key for legacy-router.
		v2 := strings.Replace(v1, "0x00112233445566778899aabbccddeeff", "0x0f0e0d0c0b0a09080706050403020100", 1)
		if err := os.WriteFile(file, []byte(v2), 0o600); err != nil {
			t.Fatal(err)
		}
		if msgs, ok := d.Reload(); !ok {
			t.Fatalf("reload refused: %v", msgs)
		}
		synctest.Wait()
		after := keys()
		if len(after) != 6 || !strings.HasPrefix(after[0x1000], "\x0f\x0e\x0d") || after[0x2002] != got[0x2002] {
			t.Errorf("after the reload: %x\nbefore: %x", after, got)
		}
		if p := mb.Policies(); len(p) != 5 {
			t.Errorf("%d policies after the reload, want 5: %v", len(p), p)
		}
		d.Stop()
		if n, p := len(mb.SAs()), len(mb.Policies()); n != 0 || p != 0 {
			t.Errorf("after the stop: %d SAs, %d policies", n, p)
		}
	})
}
