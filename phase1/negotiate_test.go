package phase1

import (
	"bytes"
	"testing"
)

// TestMainModePSKSmoke negotiates the simplest scenario end to end.
func TestMainModePSKSmoke(t *testing.T) {
	a := side{mode: "main", auth: "psk", psk: "correct horse", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self = "b"
	o := negotiateSides(t, a, b)
	if !o.iEst || !o.rEst {
		t.Fatalf("not established: i=%v r=%v rejects=%v\n%s", o.iEst, o.rEst, o.rejects, o.logText())
	}
	if !bytes.Equal(o.i.SA.SKEYIDd(), o.r.SA.SKEYIDd()) || !bytes.Equal(o.i.SA.iv, o.r.SA.iv) {
		t.Fatal("the two sides derived different keys or IVs")
	}
	checkTshark(t, o)
}
