package isakmp

import (
	"bytes"
	"crypto/aes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStrongSwanFragments reassembles the Main Mode 5 that strongSwan split
// in two fragments (RSA run: the message carries a certificate), decrypts it
// with the Ka and initial IV charon logged, and cuts it again into the same
// two datagrams.
func TestStrongSwanFragments(t *testing.T) {
	es := readKeyLog(t, filepath.Join("..", "interop", "testdata", "strongswan-runs", "f-mm-rsa-modp2048", "initiator.log"))
	var raws [][]byte
	var frags []*Fragment
	var hdr Header
	for _, n := range []string{"05-i2r", "06-i2r"} {
		b, err := os.ReadFile(filepath.Join("testdata", "captures", "strongswan-f-mm-rsa-modp2048-"+n+".bin"))
		if err != nil {
			t.Skip(err)
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := m.Find(PayloadFragment).(*Fragment)
		if !ok || len(m.Payloads) != 1 {
			t.Fatalf("%s: %s", n, m.Summary())
		}
		raws, frags, hdr = append(raws, b), append(frags, f), m.Header
	}
	whole, err := Reassemble([]*Fragment{frags[1], frags[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 1260 { // charon: "splitting IKE message (1260 bytes) into 2 fragments"
		t.Fatalf("reassembled %d bytes", len(whole))
	}
	m, err := Decode(whole)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(keyLogFind(es, "encryption key Ka")[0])
	_, next, err := m.Open(block, keyLogFind(es, "initial IV")[0])
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Summary(); !strings.HasSuffix(s, "[ID CERT SIG CR N(INITIAL-CONTACT)]") {
		t.Errorf("MM5 payloads %s", s)
	}
	if !bytes.Equal(next, keyLogFind(es, "next IV for MID")[0]) {
		t.Error("next IV differs from charon's")
	}
	if c, ok := m.Find(PayloadCERT).(*Cert); !ok || c.Encoding != CertX509Signature || c.Data[0] != 0x30 {
		t.Error("no X.509 certificate in MM5")
	}
	again, err := FragmentMessage(hdr, whole, frags[0].ID, len(raws[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || !bytes.Equal(again[0], raws[0]) || !bytes.Equal(again[1], raws[1]) {
		t.Error("FragmentMessage does not reproduce strongSwan's fragments")
	}
}

func TestReassembleErrors(t *testing.T) {
	f := func(id uint16, n, flags uint8) *Fragment {
		return &Fragment{ID: id, Number: n, Flags: flags, Data: []byte{n}}
	}
	tests := [][]*Fragment{
		nil,
		{f(1, 1, 0)},                         // no last
		{f(1, 1, 0), f(1, 3, 1)},             // gap
		{f(1, 1, 0), f(1, 1, 0), f(1, 2, 1)}, // repeated
		{f(1, 1, 1), f(1, 2, 1)},             // last flag twice
		{f(1, 1, 0), f(2, 2, 1)},             // mixed IDs
	}
	for i, fs := range tests {
		if _, err := Reassemble(fs); !errors.Is(err, ErrFragments) {
			t.Errorf("%d: got %v", i, err)
		}
	}
	if b, err := Reassemble([]*Fragment{f(1, 2, 1), f(1, 1, 0)}); err != nil || !bytes.Equal(b, []byte{1, 2}) {
		t.Errorf("good pair: %x %v", b, err)
	}
	if _, err := FragmentMessage(Header{}, make([]byte, 100), 1, 36); err == nil {
		t.Error("fragment size without room accepted")
	}
}
