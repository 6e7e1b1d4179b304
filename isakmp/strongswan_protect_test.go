package isakmp

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// keyLogEntry is one "NAME => N bytes @ 0x..." dump of a charon log at ike=4.
type keyLogEntry struct {
	name string
	data []byte
}

var (
	dumpHead = regexp.MustCompile(`\[IKE\] (.+) => (\d+) bytes @ 0x[0-9a-f]+$`)
	dumpLine = regexp.MustCompile(`\[IKE\]\s+\d+: ((?:[0-9A-F]{2} )+)`)
)

// readKeyLog parses the hex dumps of a charon log (at ike level 4 charon
// logs Ka, the initial IV and every next IV).
func readKeyLog(t *testing.T, path string) []keyLogEntry {
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("strongSwan run log not available: %v", err)
	}
	defer f.Close()
	var es []keyLogEntry
	want := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if m := dumpHead.FindStringSubmatch(l); m != nil {
			want, _ = strconv.Atoi(m[2])
			es = append(es, keyLogEntry{name: m[1]})
			continue
		}
		if m := dumpLine.FindStringSubmatch(l); m != nil && want > 0 {
			b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			e := &es[len(es)-1]
			e.data = append(e.data, b...)
			if len(e.data) >= want {
				e.data, want = e.data[:want], 0
			}
		}
	}
	return es
}

func keyLogFind(es []keyLogEntry, prefix string) [][]byte {
	var out [][]byte
	for _, e := range es {
		if strings.HasPrefix(e.name, prefix) {
			out = append(out, e.data)
		}
	}
	return out
}

// TestStrongSwanProtection decrypts the encrypted Main Mode and Quick Mode
// messages that strongSwan 5.9.8 exchanged with itself, with the key Ka and
// the IVs its initiator logged, and requires (1) the payload chain strongSwan
// says it sent, (2) each next IV (last ciphertext block) to equal the one
// strongSwan logged, and (3) Seal of the decoded payloads under the same IV
// to give back strongSwan's datagram byte for byte, which proves our
// encoding and our padding (zeros, bs - len%bs bytes) are strongSwan's.
func TestStrongSwanProtection(t *testing.T) {
	runs := map[string][]string{
		"a-mm-psk-modp2048":          {"ID HASH N(INITIAL-CONTACT)", "ID HASH", "HASH SA NONCE ID ID", "HASH SA NONCE ID ID", "HASH"},
		"b-mm-psk-3des-modp1024-pfs": {"ID HASH N(INITIAL-CONTACT)", "ID HASH", "HASH SA NONCE KE ID ID", "HASH SA NONCE KE ID ID", "HASH"},
		"c-mm-psk-ecp256-gcm-pfs":    {"ID HASH N(INITIAL-CONTACT)", "ID HASH", "HASH SA NONCE KE ID ID", "HASH SA NONCE KE ID ID", "HASH"},
		"d-mm-psk-ecp384":            {"ID HASH N(INITIAL-CONTACT)", "ID HASH", "HASH SA NONCE ID ID", "HASH SA NONCE ID ID", "HASH"},
		"g-informational":            {"ID HASH N(INITIAL-CONTACT)", "ID HASH", "HASH SA NONCE ID ID", "HASH SA NONCE ID ID", "HASH"},
		"h-mm-ecdsa-modp2048":        {"ID CERT SIG CR N(INITIAL-CONTACT)", "ID CERT SIG", "HASH SA NONCE ID ID", "HASH SA NONCE ID ID", "HASH"},
	}
	for run, want := range runs {
		t.Run(run, func(t *testing.T) {
			es := readKeyLog(t, filepath.Join("..", "interop", "testdata", "strongswan-runs", run, "initiator.log"))
			ka := keyLogFind(es, "encryption key Ka")
			iv0 := keyLogFind(es, "initial IV")
			next := keyLogFind(es, "next IV for MID")
			if len(ka) != 1 || len(iv0) != 1 || len(next) < 6 {
				t.Fatalf("log has %d Ka, %d initial IV, %d next IV", len(ka), len(iv0), len(next))
			}
			files, _ := filepath.Glob(filepath.Join("testdata", "captures", "strongswan-"+run+"-*.bin"))
			var msgs []*Message
			var raws [][]byte
			var block cipher.Block
			for _, f := range files {
				b, m, err := readCapture(t, f)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if sa, ok := m.Find(PayloadSA).(*SA); ok && block == nil {
					enc, _ := sa.Proposals[0].Transforms[0].Attributes.Phase1(AttrEncryptionAlgorithm)
					switch EncryptionAlgorithm(enc) {
					case EncAESCBC:
						block, err = aes.NewCipher(ka[0])
					case Enc3DESCBC:
						block, err = des.NewTripleDESCipher(ka[0])
					default:
						t.Fatalf("cipher %v", EncryptionAlgorithm(enc))
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if m.Header.Flags&FlagEncryption != 0 && len(msgs) < len(want) {
					msgs, raws = append(msgs, m), append(raws, b)
				}
			}
			if len(msgs) != len(want) || block == nil {
				t.Fatalf("%d encrypted messages, cipher %v", len(msgs), block != nil)
			}
			// IV chain of RFC 2409, Appendix B as strongSwan logs it: MM5
			// from the initial IV, MM6 from MM5's last block, Quick Mode
			// from its own initial IV (next[2]) and then block by block.
			ivs := [][]byte{iv0[0], next[0], next[2], next[3], next[4]}
			wantNext := [][]byte{next[0], next[1], next[3], next[4], next[5]}
			for i, m := range msgs {
				_, nextIV, err := m.Open(block, ivs[i])
				if err != nil {
					t.Fatalf("message %d: open: %v", i+5, err)
				}
				got := strings.TrimSuffix(m.Summary()[strings.Index(m.Summary(), "[")+1:], "]")
				if got != want[i] {
					t.Errorf("message %d: payloads [%s], strongSwan logged [%s]", i+5, got, want[i])
				}
				if !bytes.Equal(nextIV, wantNext[i]) {
					t.Errorf("message %d: next IV %x, strongSwan logged %x", i+5, nextIV, wantNext[i])
				}
				again, sealNext, err := Seal(m.Header, m.Payloads, block, ivs[i])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, raws[i]) || !bytes.Equal(sealNext, nextIV) {
					t.Errorf("message %d: Seal does not reproduce strongSwan's datagram\n got %x\nwant %x", i+5, again, raws[i])
				}
			}
		})
	}
}
