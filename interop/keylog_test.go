package interop

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseKeysRecordedRuns parses both logs of every recorded strongSwan run
// and checks that the two sides logged the same keys with the sizes the
// negotiated algorithms need, and that SKEYID_d really is
// prf(SKEYID, g^xy | CKY-I | CKY-R | 0) (RFC 2409, 5) with the cookies of the
// captured datagrams, so the parser cannot return equal garbage.
func TestParseKeysRecordedRuns(t *testing.T) {
	tests := []struct {
		run                   string
		prf                   func() hash.Hash
		dh, ka, iv            int
		encI, integI, childDH int
	}{
		{"a-mm-psk-modp2048", sha256.New, 256, 16, 16, 16, 32, 0},
		{"b-mm-psk-3des-modp1024-pfs", sha1.New, 128, 24, 8, 32, 20, 128},
		{"c-mm-psk-ecp256-gcm-pfs", sha256.New, 32, 32, 16, 20, 0, 32},
		{"d-mm-psk-ecp384", sha1.New, 48, 16, 16, 16, 20, 0},
		{"e-am-psk-modp2048", sha256.New, 256, 16, 16, 16, 32, 0},
		{"f-mm-rsa-modp2048", sha256.New, 256, 16, 16, 16, 32, 0},
		{"g-informational", sha256.New, 256, 16, 16, 16, 32, 0},
		{"h-mm-ecdsa-modp2048", sha256.New, 256, 16, 16, 16, 32, 0},
	}
	for _, tc := range tests {
		t.Run(tc.run, func(t *testing.T) {
			dir := filepath.Join("testdata", "strongswan-runs", tc.run)
			ki := parseKeysFile(t, filepath.Join(dir, "initiator.log"))
			kr := parseKeysFile(t, filepath.Join(dir, "responder.log"))
			if len(ki.IKE) != 1 || len(kr.IKE) != 1 {
				t.Fatalf("IKE SAs: initiator %d, responder %d, want 1", len(ki.IKE), len(kr.IKE))
			}
			i, r := ki.IKE[0], kr.IKE[0]
			checkSameKeys(t, []sameKey{
				{"g^xy", i.DHSecret, r.DHSecret, tc.dh},
				{"SKEYID", i.SKEYID, r.SKEYID, tc.prf().Size()},
				{"SKEYID_d", i.SKEYIDd, r.SKEYIDd, tc.prf().Size()},
				{"SKEYID_a", i.SKEYIDa, r.SKEYIDa, tc.prf().Size()},
				{"SKEYID_e", i.SKEYIDe, r.SKEYIDe, tc.prf().Size()},
				{"Ka", i.Ka, r.Ka, tc.ka},
				{"IV", i.IV, r.IV, tc.iv},
				{"HASH_I", i.HashI, r.HashI, -1},
				{"HASH_R", i.HashR, r.HashR, -1},
			})
			m1 := readCapture(t, "strongswan-"+tc.run+"-01-i2r.bin")
			m2 := readCapture(t, "strongswan-"+tc.run+"-02-r2i.bin")
			mac := hmac.New(tc.prf, i.SKEYID)
			mac.Write(i.DHSecret)
			mac.Write(m1[0:8])
			mac.Write(m2[8:16])
			mac.Write([]byte{0})
			if got := mac.Sum(nil); !bytes.Equal(got, i.SKEYIDd) {
				t.Errorf("prf(SKEYID, g^xy|CKY-I|CKY-R|0) = %x, log says SKEYID_d %x", got, i.SKEYIDd)
			}
			if len(ki.Child) != 1 || len(kr.Child) != 1 {
				t.Fatalf("child SAs: initiator %d, responder %d, want 1", len(ki.Child), len(kr.Child))
			}
			ci, cr := ki.Child[0], kr.Child[0]
			checkSameKeys(t, []sameKey{
				{"child g^xy", ci.DHSecret, cr.DHSecret, tc.childDH},
				{"encryption initiator key", ci.EncI, cr.EncI, tc.encI},
				{"encryption responder key", ci.EncR, cr.EncR, tc.encI},
				{"integrity initiator key", ci.IntegI, cr.IntegI, tc.integI},
				{"integrity responder key", ci.IntegR, cr.IntegR, tc.integI},
			})
			if bytes.Equal(ci.EncI, ci.EncR) {
				t.Errorf("both directions have the same key %x", ci.EncI)
			}
			if len(ki.IVs) == 0 {
				t.Errorf("no next IV records")
			}
		})
	}
}

// sameKey is a key both ends logged: equal, and size bytes long (-1: any
// length but none).
type sameKey struct {
	name string
	a, b []byte
	size int
}

func checkSameKeys(t *testing.T, ks []sameKey) {
	t.Helper()
	for _, k := range ks {
		if !bytes.Equal(k.a, k.b) {
			t.Errorf("%s differs: initiator %x, responder %x", k.name, k.a, k.b)
		}
		if k.size < 0 && len(k.a) == 0 || k.size >= 0 && len(k.a) != k.size {
			t.Errorf("%s has %d bytes, want %d", k.name, len(k.a), k.size)
		}
	}
}

func parseKeysFile(t *testing.T, path string) *Keys {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, err := ParseKeys(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "isakmp", "testdata", "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 28 {
		t.Fatalf("%s: %d bytes, shorter than an ISAKMP header", name, len(b))
	}
	return b
}

// TestParseDumpsRejectsTruncated checks that a value cut short in the log is
// an error, not a short key that would make a comparison pass or fail for the
// wrong reason.
func TestParseDumpsRejectsTruncated(t *testing.T) {
	log := "Nov 26 12:02:01 16[IKE] SKEYID_d => 20 bytes @ 0x7f0d5c004d90\n" +
		"Nov 26 12:02:01 16[IKE]    0: DD 8A 86 BB EE D7 F4 5C 51 DB 85 1E 2F 6A BB DB  .......\\Q.../j..\n"
	if _, err := ParseDumps(strings.NewReader(log)); err == nil {
		t.Fatal("truncated value accepted")
	}
	full := log + "Nov 26 12:02:01 16[IKE]   16: 40 A0 9F AF                                      @...\n"
	d, err := ParseDumps(strings.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].Title != "SKEYID_d" || len(d[0].Data) != 20 || d[0].Data[19] != 0xAF {
		t.Fatalf("got %+v", d)
	}
}

// TestParseDumpsInterleavedThreads checks that two threads logging at once
// keep their bytes apart.
func TestParseDumpsInterleavedThreads(t *testing.T) {
	log := "01[IKE] SKEYID => 17 bytes @ 0x1\n" +
		"02[CHD] DH secret => 2 bytes @ 0x2\n" +
		"01[IKE]    0: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F  ................\n" +
		"02[CHD]    0: AA BB                                             ..\n" +
		"01[IKE]   16: 10                                                .\n"
	d, err := ParseDumps(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || len(d[0].Data) != 17 || d[0].Data[16] != 0x10 || !bytes.Equal(d[1].Data, []byte{0xAA, 0xBB}) {
		t.Fatalf("got %+v", d)
	}
}
