package phase1

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
)

// Run g of interop/testdata/strongswan-runs: two strongSwan 5.9.8 charons,
// Main Mode PSK, aes128-sha256-modp2048, dpd_delay 2s, then deletes. The
// datagrams are in isakmp/testdata/captures, the keys in the charon logs.
const runG = "strongswan-g-informational"

func captureFiles(t *testing.T, run string) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join("..", "isakmp", "testdata", "captures", run+"-*.bin"))
	if err != nil || len(fs) == 0 {
		t.Fatalf("no captures for %s: %v", run, err)
	}
	return fs
}

func readCapture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runKeys(t *testing.T, run, side string) *interop.Keys {
	t.Helper()
	k, err := interop.ReadKeys(filepath.Join("..", "interop", "testdata", "strongswan-runs", strings.TrimPrefix(run, "strongswan-"), side+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(k.IKE) == 0 {
		t.Fatalf("%s %s: no IKE keys in the log", run, side)
	}
	return k
}

// strongSwanInfoKeys rebuilds the informational keys of run g from what
// charon logged (SKEYID_a, Ka) and what went on the wire (the cookies and
// encryptedCapture decodes the captured datagram at path, which must be
// an encrypted message of exchange x, and returns it with the AES-128
// cipher of the phase 1 key ka that opens it.
func encryptedCapture(t *testing.T, path string, x isakmp.ExchangeType, ka []byte) (*isakmp.Message, ikecrypto.Cipher) {
	t.Helper()
	c, err := ikecrypto.NewCipher(ikecrypto.EncryptionAES, 128, ka)
	if err != nil {
		t.Fatal(err)
	}
	m, err := isakmp.Decode(readCapture(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Exchange != x || m.Header.Flags&isakmp.FlagEncryption == 0 {
		t.Fatalf("%s is not an encrypted %v message: %v", filepath.Base(path), x, m.Header)
	}
	return m, c
}

// the last CBC block of MM6, the final phase 1 message).
func strongSwanInfoKeys(t *testing.T) (InfoKeys, []string) {
	t.Helper()
	files := captureFiles(t, runG)
	keys := runKeys(t, runG, "initiator")
	prf, err := ikecrypto.NewPRF(ikecrypto.HashSHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	mm6, c := encryptedCapture(t, files[5], isakmp.ExchangeMain, keys.IKE[0].Ka)
	last := mm6.Encrypted[len(mm6.Encrypted)-16:]
	return InfoKeys{ICookie: mm6.Header.InitiatorCookie, RCookie: mm6.Header.ResponderCookie,
		PRF: prf, SKEYIDa: keys.IKE[0].SKEYIDa, Cipher: c, LastBlock: last}, files
}

// TestStrongSwanInformationals decrypts every informational exchange of run
// g with the keys charon logged and checks its HASH(1) with our code: the
// DPD R-U-THERE/ACK pairs echo their sequence numbers with the cookies as
// SPI, and the deletes name the ESP SA and the ISAKMP SA. Our HASH(1) of
// each message equals a "Hash" value charon logged.
func TestStrongSwanInformationals(t *testing.T) {
	k, files := strongSwanInfoKeys(t)
	logged := append(runKeys(t, runG, "initiator").Find("Hash"), runKeys(t, runG, "responder").Find("Hash")...)
	var (
		ruThere, acks   = map[uint32]bool{}, map[uint32]bool{}
		deleteESP, delI bool
		n               int
	)
	for _, f := range files {
		data := readCapture(t, f)
		m, err := isakmp.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.Header.Exchange != isakmp.ExchangeInformational {
			continue
		}
		n++
		inf, err := OpenInformational(data, &k)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if !inf.Protected {
			t.Fatalf("%s: not protected", f)
		}
		// Recompute HASH(1) from the decrypted message and find it in
		// charon's log.
		m2, _ := isakmp.Decode(data)
		if _, err := open(m2, k.Cipher.Block(), ikecrypto.Phase2IV(k.PRF, k.LastBlock, m2.Header.MessageID, 16)); err != nil {
			t.Fatal(err)
		}
		rest, _ := m2.After(m2.Payloads[0])
		ours := ikecrypto.InformationalHash(k.PRF, k.SKEYIDa, m2.Header.MessageID, rest)
		found := false
		for _, h := range logged {
			found = found || bytes.Equal(h, ours)
		}
		if !found {
			t.Errorf("%s: our HASH(1) %x is not among charon's logged Hash values", filepath.Base(f), ours)
		}
		o := ReceiveInformational(inf, k.ICookie, k.RCookie, addrA)
		if o.Ignored != 0 {
			t.Errorf("%s: %d payloads ignored", filepath.Base(f), o.Ignored)
		}
		switch {
		case o.RUThere:
			ruThere[o.RUThereSeq] = true
		case o.RUThereAck:
			acks[o.AckSeq] = true
		case o.DeleteISAKMP:
			delI = true
			if len(o.Log) != 1 || o.Log[0].Num != 62 {
				t.Errorf("ISAKMP delete logs %v", o.Log)
			}
		case len(o.Delete) == 1 && o.Delete[0].Protocol == isakmp.ProtoESP:
			deleteESP = true
			if !strings.Contains(o.Log[0].Text, "ESP[0x") {
				t.Errorf("ESP delete logs %q", o.Log[0].Text)
			}
		default:
			t.Errorf("%s: unexpected outcome %+v", filepath.Base(f), o)
		}
	}
	if n < 6 {
		t.Fatalf("only %d informationals in run g", n)
	}
	t.Logf("%d informationals; R-U-THERE %v, ACK %v", n, ruThere, acks)
	if len(ruThere) < 2 || len(acks) < 2 {
		t.Errorf("R-U-THERE %v, ACK %v: want several of each", ruThere, acks)
	}
	for s := range acks {
		if !ruThere[s] {
			t.Errorf("ACK %d answers no R-U-THERE", s)
		}
	}
	if !deleteESP || !delI {
		t.Errorf("deletes seen: ESP %v, ISAKMP %v", deleteESP, delI)
	}
}

// TestStrongSwanInformationalTampered flips one bit of each real
// informational's ciphertext, and of its message ID: the HASH(1) check (or
// the payload chain) refuses every one.
func TestStrongSwanInformationalTampered(t *testing.T) {
	k, files := strongSwanInfoKeys(t)
	for _, f := range files {
		data := readCapture(t, f)
		if len(data) < 28 || isakmp.ExchangeType(data[18]) != isakmp.ExchangeInformational {
			continue
		}
		for _, pos := range []int{len(data) - 20, 28, 21} {
			bad := bytes.Clone(data)
			bad[pos] ^= 0x04
			if _, err := OpenInformational(bad, &k); err == nil {
				t.Errorf("%s with byte %d flipped: accepted", filepath.Base(f), pos)
			}
		}
		// Wrong SKEYID_a: the hash must fail, not the decryption.
		k2 := k
		k2.SKEYIDa = bytes.Clone(k.SKEYIDa)
		k2.SKEYIDa[0] ^= 1
		if _, err := OpenInformational(data, &k2); err != ErrInfoHash {
			t.Errorf("%s with a wrong SKEYID_a: %v, want ErrInfoHash", filepath.Base(f), err)
		}
		// Unprotected handling refuses it, and keys refuse wrong cookies.
		if _, err := OpenInformational(data, nil); err != ErrInfoNotKeyed {
			t.Errorf("%s without keys: %v", filepath.Base(f), err)
		}
		k3 := k
		k3.RCookie[7] ^= 1
		if _, err := OpenInformational(data, &k3); err != ErrInfoCookies {
			t.Errorf("%s with other cookies: %v", filepath.Base(f), err)
		}
	}
}

// TestStrongSwanNATD checks NAT-D against run g's MM3 and MM4: our hash of
// the destination address equals the first NAT-D payload charon sent (and
// the natd_hash it logged); charon's second payload is a fake (the
// kernel-libipsec plugin forces UDP encapsulation by pretending a NAT), so
// our check finds the sender behind a NAT, as charon itself logged
// ("remote host is behind NAT"), and ourselves not.
func TestStrongSwanNATD(t *testing.T) {
	files := captureFiles(t, runG)
	prf, _ := ikecrypto.NewPRF(ikecrypto.HashSHA2_256)
	logged := runKeys(t, runG, "initiator").Find("natd_hash")
	initiator, responder := addrA, addrB
	for i, tc := range []struct {
		file          string
		local, remote netip.AddrPort
	}{
		{files[2], responder, initiator}, // MM3 as the responder receives it
		{files[3], initiator, responder}, // MM4 as the initiator receives it
	} {
		m, err := isakmp.Decode(readCapture(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var natd []*isakmp.NATD
		for _, p := range m.Payloads {
			if d, ok := p.(*isakmp.NATD); ok {
				natd = append(natd, d)
			}
		}
		if len(natd) != 2 || natd[0].Draft {
			t.Fatalf("message %d: NAT-D payloads %v", i+3, natd)
		}
		h := m.Header
		ours := NATDPayloads(NATTRFC3947, prf, h.InitiatorCookie, h.ResponderCookie, tc.remote, tc.local)
		if !bytes.Equal(ours[0].(*isakmp.NATD).Hash, natd[0].Hash) {
			t.Errorf("message %d: our destination hash %x, charon's %x", i+3, ours[0].(*isakmp.NATD).Hash, natd[0].Hash)
		}
		inLog := false
		for _, l := range logged {
			inLog = inLog || bytes.Equal(l, natd[0].Hash)
		}
		if !inLog {
			t.Errorf("message %d: charon's NAT-D %x not in its natd_hash log", i+3, natd[0].Hash)
		}
		st, err := CheckNATD(NATTRFC3947, prf, h.InitiatorCookie, h.ResponderCookie, tc.local, tc.remote, natd)
		if err != nil {
			t.Fatal(err)
		}
		if st.LocalBehindNAT || !st.RemoteBehindNAT {
			t.Errorf("message %d: %v, want remote end behind NAT", i+3, st)
		}
		// With the draft version the payload numbers do not match.
		if _, err := CheckNATD(NATTDraft02N, prf, h.InitiatorCookie, h.ResponderCookie, tc.local, tc.remote, natd); err == nil {
			t.Errorf("message %d: RFC NAT-D accepted as draft", i+3)
		}
	}
	// The first natd_hash charon logged is MM3's destination hash: the
	// hash of cookies | 192.0.2.2 | 500.
	m3, _ := isakmp.Decode(readCapture(t, files[2]))
	want := ikecrypto.NATDHash(prf, m3.Header.InitiatorCookie[:], m3.Header.ResponderCookie[:], responder)
	if len(logged) == 0 || !bytes.Equal(logged[0], want) {
		t.Errorf("natd_hash %x, ours %x", logged, want)
	}
}

// TestStrongSwanDPDSequence: the R-U-THERE sequence numbers charon sent
// grow by one per probe, as DPD.Tick makes ours.
func TestStrongSwanDPDSequence(t *testing.T) {
	k, files := strongSwanInfoKeys(t)
	seqs := map[string][]uint32{}
	for _, f := range files {
		data := readCapture(t, f)
		if isakmp.ExchangeType(data[18]) != isakmp.ExchangeInformational {
			continue
		}
		dir := f[len(f)-7:]
		inf, err := OpenInformational(data, &k)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range inf.Notifies {
			if n.NotifyType == isakmp.DPDRUThere {
				seqs[dir] = append(seqs[dir], binary.BigEndian.Uint32(n.Data))
			}
		}
	}
	total := 0
	for dir, s := range seqs {
		total += len(s)
		for i := 1; i < len(s); i++ {
			if s[i] != s[i-1]+1 {
				t.Errorf("%s R-U-THERE numbers %v do not grow by one", dir, s)
			}
		}
	}
	t.Logf("R-U-THERE numbers by direction: %v", seqs)
	if total < 3 {
		t.Errorf("R-U-THERE numbers %v: want at least 3", seqs)
	}
}

// TestStrongSwanAggressiveNATD decrypts strongSwan's AM3 (run e) with the
// Ka and initial IV charon logged: its NAT-D hashes are of the port 4500
// addresses (the initiator floated before sending AM3), so the responder
// checks them against the addresses AM3 arrived on, as PeerMoved makes us
// do. The destination hash matches; the source hash is charon's fake (its
// kernel-libipsec plugin forces UDP encapsulation), so the initiator is
// seen behind a NAT, as charon logged.
func TestStrongSwanAggressiveNATD(t *testing.T) {
	const run = "strongswan-e-am-psk-modp2048"
	files := captureFiles(t, run)
	keys := runKeys(t, run, "responder")
	prf, _ := ikecrypto.NewPRF(ikecrypto.HashSHA2_256)
	m, c := encryptedCapture(t, files[2], isakmp.ExchangeAggressive, keys.IKE[0].Ka)
	if _, err := open(m, c.Block(), keys.IKE[0].IV); err != nil {
		t.Fatal(err)
	}
	var natd []*isakmp.NATD
	for _, p := range m.Payloads {
		if d, ok := p.(*isakmp.NATD); ok {
			natd = append(natd, d)
		}
	}
	h := m.Header
	at4500 := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr(), NATTPort) }
	st, err := CheckNATD(NATTRFC3947, prf, h.InitiatorCookie, h.ResponderCookie, at4500(addrB), at4500(addrA), natd)
	if err != nil {
		t.Fatal(err)
	}
	if st.LocalBehindNAT || !st.RemoteBehindNAT {
		t.Errorf("AM3 at port 4500: %v, want remote end behind NAT", st)
	}
	// Checked against port 500 instead, our own end would look NATed.
	st, _ = CheckNATD(NATTRFC3947, prf, h.InitiatorCookie, h.ResponderCookie, addrB, addrA, natd)
	if !st.LocalBehindNAT {
		t.Errorf("AM3 checked at port 500: %v", st)
	}
}
