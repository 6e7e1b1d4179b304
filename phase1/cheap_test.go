package phase1

import (
	"slices"
	"testing"
)

// TestCheapWork: which steps the daemon runs on its loop
// (daemon.Result.Cheap) rather than in the worker pool. With a pre-shared
// key only the steps after the Diffie-Hellman are (the responder's MM5,
// the initiator's MM6); Aggressive Mode's every step computes g^xy or a
// key; with signatures nothing is cheap, since each later step signs or
// verifies.
func TestCheapWork(t *testing.T) {
	for _, tc := range []struct {
		name, mode, auth string
		want             []string
	}{
		{"main-psk", "main", "psk", []string{"I pool", "R pool", "I pool", "R cheap", "I cheap"}},
		{"aggressive-psk", "aggressive", "psk", []string{"I pool", "R pool", "I pool", "R cheap"}},
		{"main-rsa", "main", "rsa", []string{"I pool", "R pool", "I pool", "R pool", "I pool"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b side
			if tc.auth == "psk" {
				a, b = pskPair(tc.mode)
			} else {
				a = side{mode: tc.mode, auth: "rsa", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
				b = a
				b.self = "b"
			}
			o := negotiateSides(t, a, b)
			if !o.iEst || !o.rEst {
				t.Fatalf("not established:\n%s", o.logText())
			}
			if !slices.Equal(o.works, tc.want) {
				t.Errorf("work %q, want %q", o.works, tc.want)
			}
		})
	}
}
