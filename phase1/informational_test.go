package phase1

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/isakmp/pcapgolden"
)

// testInfoKeys makes random informational keys for a cipher and hash.
func testInfoKeys(t *testing.T, e ikecrypto.EncryptionAlgorithm, bits int, h ikecrypto.HashAlgorithm) InfoKeys {
	t.Helper()
	prf, err := ikecrypto.NewPRF(h)
	if err != nil {
		t.Fatal(err)
	}
	keyLen := bits / 8
	if e == ikecrypto.Encryption3DES {
		keyLen = 24
	}
	ka := make([]byte, keyLen)
	rand.Read(ka)
	c, err := ikecrypto.NewCipher(e, bits, ka)
	if err != nil {
		t.Fatal(err)
	}
	k := InfoKeys{PRF: prf, Cipher: c, SKEYIDa: make([]byte, prf.Size()), LastBlock: make([]byte, c.BlockSize())}
	rand.Read(k.ICookie[:])
	rand.Read(k.RCookie[:])
	rand.Read(k.SKEYIDa)
	rand.Read(k.LastBlock)
	return k
}

// TestInformationalRoundTrip seals notifies and deletes (one ISAKMP
// delete, an ESP delete of three SPIs, DPD, INITIAL-CONTACT) under three
// cipher/hash pairs, opens them with the other side's keys, and checks
// the outcome and that every shorter prefix fails.
func TestInformationalRoundTrip(t *testing.T) {
	for _, alg := range []struct {
		e    ikecrypto.EncryptionAlgorithm
		bits int
		h    ikecrypto.HashAlgorithm
	}{
		{ikecrypto.EncryptionAES, 128, ikecrypto.HashSHA2_256},
		{ikecrypto.EncryptionAES, 256, ikecrypto.HashSHA1},
		{ikecrypto.Encryption3DES, 192, ikecrypto.HashMD5},
	} {
		k := testInfoKeys(t, alg.e, alg.bits, alg.h)
		esp, err := DeleteIPsec(isakmp.ProtoESP, 0xc0ffee01, 0x00000102, 0xdeadbeef)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			ps    []isakmp.Payload
			check func(o InfoOutcome) bool
		}{
			{"delete ISAKMP", []isakmp.Payload{k.DeleteISAKMP()}, func(o InfoOutcome) bool {
				return o.DeleteISAKMP && len(o.Delete) == 0 && len(o.Log) == 1 && o.Log[0].Num == 62
			}},
			{"delete ESP x3", []isakmp.Payload{esp}, func(o InfoOutcome) bool {
				return !o.DeleteISAKMP && len(o.Delete) == 3 && len(o.Log) == 3 &&
					o.Log[2].Text == "Requested to delete SA ESP[0xdeadbeef]" &&
					binary.BigEndian.Uint32(o.Delete[0].SPI) == 0xc0ffee01
			}},
			{"R-U-THERE", []isakmp.Payload{k.DPDNotify(false, 77)}, func(o InfoOutcome) bool {
				return o.RUThere && o.RUThereSeq == 77 && len(o.Log) == 0
			}},
			{"R-U-THERE-ACK", []isakmp.Payload{k.DPDNotify(true, 0xffffffff)}, func(o InfoOutcome) bool {
				return o.RUThereAck && o.AckSeq == 0xffffffff
			}},
			{"INITIAL-CONTACT", []isakmp.Payload{k.ISAKMPNotify(isakmp.InitialContact, nil)}, func(o InfoOutcome) bool {
				return o.InitialContact && len(o.Log) == 1 && o.Log[0].Num == 48 && !o.DeleteISAKMP
			}},
			{"error notify", []isakmp.Payload{k.ISAKMPNotify(isakmp.InvalidSPI, []byte{1, 2})}, func(o InfoOutcome) bool {
				return o.DeleteISAKMP && len(o.Log) == 2 && o.Log[0].Num == 48 && o.Log[1].Num == 51 &&
					o.Log[1].Text == "Received error notify from 192.0.2.1 : INVALID-SPI. Deleting ISAKMP SA."
			}},
		} {
			mid, err := isakmp.NewMessageID(rand.Reader, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := SealInformational(k, mid, tc.ps)
			if err != nil {
				t.Fatalf("%v %s: %v", alg, tc.name, err)
			}
			inf, err := OpenInformational(out, &k)
			if err != nil {
				t.Fatalf("%v %s: %v", alg, tc.name, err)
			}
			if !inf.Protected || inf.MessageID != mid {
				t.Errorf("%s: %+v", tc.name, inf)
			}
			if o := ReceiveInformational(inf, k.ICookie, k.RCookie, addrA); !tc.check(o) || o.Ignored != 0 {
				t.Errorf("%v %s: outcome %+v", alg, tc.name, o)
			}
			for i := 0; i < len(out); i++ {
				if _, err := OpenInformational(out[:i], &k); err == nil {
					t.Fatalf("%s: prefix of %d bytes accepted", tc.name, i)
				}
			}
			// A bit flip past the header is refused (hash or chain), or
			// touched only the padding, which RFC 2409 leaves unprotected:
			// then the content must be exactly what was sent.
			want, _ := isakmp.EncodeChain(tc.ps)
			for i := 28; i < len(out); i++ {
				bad := bytes.Clone(out)
				bad[i] ^= 0x80
				inf2, err := OpenInformational(bad, &k)
				if err != nil {
					continue
				}
				if got, _ := isakmp.EncodeChain(infoPayloads(inf2)); !bytes.Equal(got, want) {
					t.Errorf("%s: flipped byte %d accepted with other content", tc.name, i)
				}
			}
		}
	}
}

// TestInformationalRefusals: the codec's rules, one per row.
func TestInformationalRefusals(t *testing.T) {
	k := testInfoKeys(t, ikecrypto.EncryptionAES, 128, ikecrypto.HashSHA2_256)
	good, _ := SealInformational(k, 5, []isakmp.Payload{k.DeleteISAKMP()})
	plain, _ := PlainInformational(k.ICookie, k.RCookie, 0, []isakmp.Payload{k.ISAKMPNotify(isakmp.NoProposalChosen, nil)})

	// A protected message whose first payload is not HASH: seal N alone
	// with a correct IV.
	h := isakmp.Header{InitiatorCookie: k.ICookie, ResponderCookie: k.RCookie, Exchange: isakmp.ExchangeInformational, MessageID: 9}
	noHash, _, _ := seal(h, []isakmp.Payload{k.DPDNotify(false, 1)}, k.Cipher.Block(), ikecrypto.Phase2IV(k.PRF, k.LastBlock, 9, 16))
	// Message ID 0 in a protected one.
	h.MessageID = 0
	mid0, _, _ := seal(h, []isakmp.Payload{&isakmp.Hash{Data: ikecrypto.InformationalHash(k.PRF, k.SKEYIDa, 0, nil)}, k.DPDNotify(false, 1)}, k.Cipher.Block(), ikecrypto.Phase2IV(k.PRF, k.LastBlock, 0, 16))
	// Quick Mode header.
	h.MessageID, h.Exchange = 7, isakmp.ExchangeQuickMode
	qm, _, _ := seal(h, []isakmp.Payload{k.DPDNotify(false, 1)}, k.Cipher.Block(), ikecrypto.Phase2IV(k.PRF, k.LastBlock, 7, 16))

	for _, tc := range []struct {
		name string
		data []byte
		keys *InfoKeys
		want error
	}{
		{"unprotected on a keyed SA", plain, &k, ErrInfoUnprotected},
		{"protected without keys", good, nil, ErrInfoNotKeyed},
		{"no HASH first", noHash, &k, ErrInfoNoHash},
		{"message ID 0", mid0, &k, ErrInfoMessageID},
		{"quick mode", qm, &k, ErrInfoNotInformational},
	} {
		if _, err := OpenInformational(tc.data, tc.keys); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := SealInformational(k, 0, []isakmp.Payload{k.DeleteISAKMP()}); !errors.Is(err, ErrInfoMessageID) {
		t.Errorf("seal with M-ID 0: %v", err)
	}
	if _, err := SealInformational(k, 1, nil); !errors.Is(err, ErrInfoEmpty) {
		t.Errorf("seal empty: %v", err)
	}
	if _, err := SealInformational(k, 1, []isakmp.Payload{&isakmp.Nonce{Data: []byte{1}}}); !errors.Is(err, ErrInfoPayload) {
		t.Errorf("seal nonce: %v", err)
	}
	if _, err := SealInformational(InfoKeys{}, 1, []isakmp.Payload{k.DeleteISAKMP()}); !errors.Is(err, ErrInfoNotKeyed) {
		t.Errorf("seal without keys: %v", err)
	}
	if _, err := DeleteIPsec(isakmp.ProtoISAKMP, 1); err == nil {
		t.Error("DeleteIPsec of ISAKMP accepted")
	}
	if _, err := DeleteIPsec(isakmp.ProtoESP); err == nil {
		t.Error("DeleteIPsec without SPI accepted")
	}
}

// TestUnprotectedNotify: a refusal of MM1 in the clear (as strongSwan sends
// NO-PROPOSAL-CHOSEN with a zero responder cookie) parses without keys,
// gives messages 48 and 51, and its unauthenticated deletes and status
// notifies are not acted on.
func TestUnprotectedNotify(t *testing.T) {
	var ci [8]byte
	copy(ci[:], "initcook")
	n := &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, NotifyType: isakmp.NoProposalChosen}
	out, err := PlainInformational(ci, [8]byte{}, 0, []isakmp.Payload{n})
	if err != nil {
		t.Fatal(err)
	}
	inf, err := OpenInformational(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := ReceiveInformational(inf, ci, [8]byte{}, addrB)
	if !o.DeleteISAKMP || len(o.Log) != 2 || o.Log[0].Num != 48 || o.Log[1].Num != 51 {
		t.Fatalf("outcome %+v", o)
	}
	if want := `Phase-1 notify NO-PROPOSAL-CHOSEN "(size 0 bytes) from 192.0.2.2:500 for protocol=1 spi(0)=0x"`; o.Log[0].Text != want {
		t.Errorf("message 48:\n got %q\nwant %q", o.Log[0].Text, want)
	}
	k := InfoKeys{ICookie: ci}
	forged, _ := PlainInformational(ci, [8]byte{}, 3, []isakmp.Payload{k.DeleteISAKMP(), k.ISAKMPNotify(isakmp.InitialContact, nil), k.DPDNotify(false, 1)})
	inf, err = OpenInformational(forged, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := ReceiveInformational(inf, ci, [8]byte{}, addrB); o.DeleteISAKMP || o.InitialContact || o.RUThere || o.Ignored != 3 {
		t.Errorf("unprotected delete/status acted on: %+v", o)
	}
}

// TestReceiveInformationalMalformedKinds: DPD notifies without their
// 4-byte number or with another SA's cookies, and deletes with SPIs of the
// wrong size, are counted and dropped; a delete of another ISAKMP SA is
// passed on, not taken for ours.
func TestReceiveInformationalMalformedKinds(t *testing.T) {
	k := testInfoKeys(t, ikecrypto.EncryptionAES, 128, ikecrypto.HashSHA2_256)
	other := k
	other.RCookie[0] ^= 0xff
	shortDPD := k.ISAKMPNotify(isakmp.DPDRUThere, []byte{1, 2, 3})
	foreignDPD := other.DPDNotify(false, 4)
	noSPI := &isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, NotifyType: isakmp.DPDRUThere, Data: []byte{0, 0, 0, 9}}
	espWrongSize := &isakmp.Delete{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoESP, SPISize: 2, SPIs: [][]byte{{1, 2}}}
	inf := &Informational{Protected: true,
		Notifies: []*isakmp.Notification{shortDPD, foreignDPD, noSPI},
		Deletes:  []*isakmp.Delete{espWrongSize, other.DeleteISAKMP()}}
	o := ReceiveInformational(inf, k.ICookie, k.RCookie, addrA)
	if o.Ignored != 3 || !o.RUThere || o.RUThereSeq != 9 || o.DeleteISAKMP || len(o.Delete) != 1 ||
		o.Delete[0].Protocol != isakmp.ProtoISAKMP || len(o.Delete[0].SPI) != 16 {
		t.Errorf("outcome %+v", o)
	}
}

// TestInformationalTshark: every informational we produce dissects in
// tshark without a malformed packet or expert warning, and the clear ones
// show the notify by name.
func TestInformationalTshark(t *testing.T) {
	k := testInfoKeys(t, ikecrypto.EncryptionAES, 128, ikecrypto.HashSHA2_256)
	esp, _ := DeleteIPsec(isakmp.ProtoESP, 0x11223344, 0x55667788)
	var ds []pcapgolden.Datagram
	add := func(b []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, pcapgolden.Datagram{Src: pcapgolden.Initiator, Dst: pcapgolden.Responder, Payload: b})
	}
	add(SealInformational(k, 1, []isakmp.Payload{k.DPDNotify(false, 1)}))
	add(SealInformational(k, 2, []isakmp.Payload{k.DPDNotify(true, 1)}))
	add(SealInformational(k, 3, []isakmp.Payload{esp}))
	add(SealInformational(k, 4, []isakmp.Payload{k.DeleteISAKMP()}))
	add(SealInformational(k, 5, []isakmp.Payload{k.ISAKMPNotify(isakmp.InitialContact, nil)}))
	add(PlainInformational(k.ICookie, [8]byte{}, 0, []isakmp.Payload{k.ISAKMPNotify(isakmp.NoProposalChosen, nil)}))
	add(PlainInformational(k.ICookie, k.RCookie, 6, []isakmp.Payload{k.DPDNotify(false, 2), esp, k.DeleteISAKMP()}))
	ds = append(ds, pcapgolden.Datagram{Src: pcapgolden.Initiator, Dst: pcapgolden.Responder, SrcPort: 4500, DstPort: 4500,
		NonESPMarker: true, Payload: mustSeal(t, k)})
	dir := t.TempDir()
	path := filepath.Join(dir, "info.pcap")
	if err := pcapgolden.WriteFile(path, ds); err != nil {
		t.Fatal(err)
	}
	summary := pcapgolden.Tshark(t, path)
	if n := strings.Count(summary, "Informational"); n != len(ds) {
		t.Errorf("tshark sees %d informationals of %d:\n%s", n, len(ds), summary)
	}
	verbose, _, err := pcapgolden.Check(path, "-V")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NO-PROPOSAL-CHOSEN", "R-U-THERE", "Number of SPIs: 2"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("tshark -V does not show %q", want)
		}
	}
}

// infoPayloads returns the notifies and then the deletes of inf.
func infoPayloads(inf *Informational) []isakmp.Payload {
	var ps []isakmp.Payload
	for _, n := range inf.Notifies {
		ps = append(ps, n)
	}
	for _, d := range inf.Deletes {
		ps = append(ps, d)
	}
	return ps
}

func mustSeal(t *testing.T, k InfoKeys) []byte {
	b, err := SealInformational(k, 0x7fffffff, []isakmp.Payload{k.DPDNotify(false, 3)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
