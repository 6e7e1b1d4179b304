package ikecrypto

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// katRun is one run of testdata/strongswan-kat.txt: key -> list of lines,
// each line a list of fields.
type katRun struct {
	name string
	kv   map[string][][]string
}

func loadKAT(t *testing.T) []katRun {
	t.Helper()
	f, err := os.Open(katFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []katRun
	var cur *katRun
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 0 || fs[0] == "#":
		case fs[0] == "run":
			runs = append(runs, katRun{name: fs[1], kv: map[string][][]string{}})
			cur = &runs[len(runs)-1]
		case fs[0] == "end":
			cur = nil
		case cur != nil:
			cur.kv[fs[0]] = append(cur.kv[fs[0]], fs[1:])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		t.Fatal("no runs in " + katFile)
	}
	return runs
}

func (r katRun) field(t *testing.T, key string, i int) string {
	t.Helper()
	l := r.kv[key]
	if len(l) == 0 {
		t.Fatalf("%s: no %q", r.name, key)
	}
	if i >= len(l[0]) {
		return ""
	}
	return l[0][i]
}

func (r katRun) hex(t *testing.T, key string) []byte {
	t.Helper()
	return mustHex(t, r.field(t, key, 0))
}

func (r katRun) int(t *testing.T, key string, i int) int {
	t.Helper()
	n, err := strconv.Atoi(r.field(t, key, i))
	if err != nil {
		t.Fatalf("%s: %s: %v", r.name, key, err)
	}
	return n
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mid(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

func expect(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// TestStrongSwanKAT recomputes, from the inputs strongSwan 5.9 saw, every
// value strongSwan logged or sent in the recorded runs.
func TestStrongSwanKAT(t *testing.T) {
	for _, r := range loadKAT(t) {
		t.Run(r.name, func(t *testing.T) {
			prf, err := NewPRF(HashAlgorithm(r.int(t, "hash", 0)))
			if err != nil {
				t.Fatal(err)
			}
			enc := EncryptionAlgorithm(r.int(t, "encr", 0))
			keyBits := r.int(t, "encr", 1)
			g, err := NewGroup(GroupID(r.int(t, "group", 0)))
			if err != nil {
				t.Fatal(err)
			}
			ni, nr := r.hex(t, "ni"), r.hex(t, "nr")
			gxi, gxr, gxy := r.hex(t, "gxi"), r.hex(t, "gxr"), r.hex(t, "gxy")
			ckyI, ckyR := r.hex(t, "ckyi"), r.hex(t, "ckyr")

			// The peer values strongSwan sent pass our validation, with
			// the exact length the group demands.
			if len(gxi) != g.PublicLen() || len(gxr) != g.PublicLen() {
				t.Errorf("KE lengths %d/%d, group says %d", len(gxi), len(gxr), g.PublicLen())
			}
			k, err := g.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			for _, pub := range [][]byte{gxi, gxr} {
				if z, err := k.SharedSecret(pub); err != nil || len(z) != len(gxy) {
					t.Errorf("SharedSecret(strongSwan's value) = %d bytes, %v; want %d bytes", len(z), err, len(gxy))
				}
			}

			var skeyid []byte
			authMethod := uint16(1)
			switch r.field(t, "auth", 0) {
			case "psk":
				skeyid = SKEYIDPreSharedKey(prf, r.hex(t, "psk"), ni, nr)
			case "sig":
				authMethod = uint16(r.int(t, "auth", 1))
				skeyid = SKEYIDSignature(prf, ni, nr, gxy)
			}
			expect(t, "SKEYID", skeyid, r.hex(t, "skeyid"))
			km := DeriveKeyMaterial(prf, r.hex(t, "skeyid"), gxy, ckyI, ckyR)
			expect(t, "SKEYID_d", km.SKEYIDd, r.hex(t, "skeyid_d"))
			expect(t, "SKEYID_a", km.SKEYIDa, r.hex(t, "skeyid_a"))
			expect(t, "SKEYID_e", km.SKEYIDe, r.hex(t, "skeyid_e"))
			ka, c, err := EncryptionKey(prf, r.hex(t, "skeyid_e"), enc, keyBits)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "Ka", ka, r.hex(t, "ka"))
			expect(t, "initial IV", Phase1IV(prf, gxi, gxr, c.BlockSize()), r.hex(t, "iv1"))

			ap := AuthPRF(prf, authMethod)
			skeyidW := r.hex(t, "skeyid")
			expect(t, "HASH_I", HashI(ap, skeyidW, gxi, gxr, ckyI, ckyR, r.hex(t, "hashi_rest"), nil), r.hex(t, "hash_i"))
			expect(t, "HASH_R", HashR(ap, skeyidW, gxi, gxr, ckyI, ckyR, r.hex(t, "hashr_rest"), nil), r.hex(t, "hash_r"))

			for _, l := range r.kv["natd"] {
				chunk, want := mustHex(t, l[0]), mustHex(t, l[1])
				if len(chunk) != 16+4+2 {
					t.Fatalf("natd chunk %x", chunk)
				}
				ip, _ := netip.AddrFromSlice(chunk[16:20])
				ap := netip.AddrPortFrom(ip, binary.BigEndian.Uint16(chunk[20:]))
				expect(t, "NAT-D "+ap.String(), NATDHash(prf, chunk[:8], chunk[8:16], ap), want)
			}

			last := r.hex(t, "p1_last_block")
			for _, l := range r.kv["iv2"] {
				expect(t, "phase 2 IV for M-ID "+l[0], Phase2IV(prf, last, mid(t, l[0]), c.BlockSize()), mustHex(t, l[1]))
			}

			// KEYMAT: the initiator's keys go with the responder's SPI.
			skeyidD, skeyidA := r.hex(t, "skeyid_d"), r.hex(t, "skeyid_a")
			dh := r.hex(t, "qm_dh")
			proto := uint8(r.int(t, "qm_protocol", 0))
			qni, qnr := r.hex(t, "qm_ni"), r.hex(t, "qm_nr")
			for _, side := range []struct{ keys, spi string }{{"qm_keys_i", "qm_spi_r"}, {"qm_keys_r", "qm_spi_i"}} {
				l := r.kv[side.keys][0]
				wantEnc := mustHex(t, l[0])
				wantInt := []byte{}
				if len(l) > 2 {
					wantInt = mustHex(t, l[2])
				}
				e, i := SAKeys(prf, skeyidD, dh, proto, r.hex(t, side.spi), qni, qnr, len(wantEnc), len(wantInt))
				expect(t, side.keys+" encryption", e, wantEnc)
				expect(t, side.keys+" integrity", i, wantInt)
			}
			for _, l := range r.kv["qm_hash1"] {
				expect(t, "QM HASH(1)", QuickModeHash1(prf, skeyidA, mid(t, l[0]), mustHex(t, l[2])), mustHex(t, l[1]))
			}
			for _, l := range r.kv["qm_hash2"] {
				expect(t, "QM HASH(2)", QuickModeHash2(prf, skeyidA, mid(t, l[0]), qni, mustHex(t, l[2])), mustHex(t, l[1]))
			}
			for _, l := range r.kv["qm_hash3"] {
				expect(t, "QM HASH(3)", QuickModeHash3(prf, skeyidA, mid(t, l[0]), qni, qnr), mustHex(t, l[1]))
			}
			for _, l := range r.kv["info_hash"] {
				expect(t, "informational HASH(1) M-ID "+l[0], InformationalHash(prf, skeyidA, mid(t, l[0]), mustHex(t, l[2])), mustHex(t, l[1]))
			}
			if len(r.kv["qm_hash1"]) == 0 || len(r.kv["qm_hash2"]) == 0 || len(r.kv["qm_hash3"]) == 0 {
				t.Errorf("run lacks a Quick Mode hash vector")
			}
		})
	}
}
