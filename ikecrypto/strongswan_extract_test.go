package ikecrypto

// The -update mode of this file regenerates testdata/strongswan-kat.txt from
// the strongSwan-against-strongSwan runs the interop engineer recorded:
// charon logs at ike=4/chd=4 (interop/testdata/strongswan-runs/NAME/) and
// the raw ISAKMP datagrams of each run's capture
// (isakmp/testdata/captures/strongswan-NAME-NN-DIR.bin), plus the runs of
// testdata/strongswan-h2/ (same layout, datagrams inside the run folder). Every expected value
// in the table is one strongSwan logged or sent; the only use of this
// package's code is CBC decryption of Quick Mode and informational messages
// (with strongSwan's Ka and IV) to reach the payloads its hashes cover.
//
//	go test ./ikecrypto -run TestExtractStrongSwanVectors -update

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/strongswan-kat.txt from the recorded strongSwan runs")

const (
	runsDir     = "../interop/testdata/strongswan-runs"
	capturesDir = "../isakmp/testdata/captures"
	ownRunsDir  = "testdata/strongswan-h2" // runs made by testdata/strongswan-h2/make-runs.sh
	katFile     = "testdata/strongswan-kat.txt"
)

// runSource says where one run's log and datagrams are.
type runSource struct {
	name     string
	dir      string // holds initiator.log and initiator.swanctl.conf
	captures string // glob of the NN-DIR.bin datagrams
	cite     string // for the vector file's comment
}

// logEntry is one "LABEL => N bytes" hex dump of a charon log.
type logEntry struct {
	label string
	data  []byte
}

var (
	dumpHead = regexp.MustCompile(`\[(?:IKE|CHD|ENC|CFG)\] (.+?) => (\d+) bytes @ 0x[0-9a-f]+$`)
	dumpLine = regexp.MustCompile(`\[(?:IKE|CHD|ENC|CFG)\]\s+\d+: ((?:[0-9A-F]{2} )+)`)
	proposal = regexp.MustCompile(`selected proposal: IKE:(\S+)`)
)

// parseCharonLog returns the hex dumps of a charon log in order and the
// selected IKE proposal.
func parseCharonLog(path string) ([]logEntry, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var out []logEntry
	var prop string
	want := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := proposal.FindStringSubmatch(line); m != nil && prop == "" {
			prop = m[1]
		}
		if want > 0 {
			if m := dumpLine.FindStringSubmatch(line); m != nil {
				cur := &out[len(out)-1]
				for _, tok := range strings.Fields(m[1]) {
					if want == 0 {
						break
					}
					b, err := hex.DecodeString(tok)
					if err != nil {
						return nil, "", fmt.Errorf("%s: %q: %v", path, line, err)
					}
					cur.data = append(cur.data, b...)
					want--
				}
				continue
			}
			return nil, "", fmt.Errorf("%s: dump %q cut short at %q", path, out[len(out)-1].label, line)
		}
		if m := dumpHead.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			out = append(out, logEntry{label: m[1]})
			want = n
		}
	}
	return out, prop, sc.Err()
}

func firstEntry(es []logEntry, label string) []byte {
	for _, e := range es {
		if e.label == label {
			return e.data
		}
	}
	return nil
}

func allEntries(es []logEntry, label string) [][]byte {
	var out [][]byte
	for _, e := range es {
		if e.label == label {
			out = append(out, e.data)
		}
	}
	return out
}

// capture is one recorded ISAKMP datagram.
type capture struct {
	i2r   bool
	hdr   []byte
	exch  byte
	flags byte
	mid   uint32
	body  []byte
}

func readCaptures(glob string) ([]capture, error) {
	names, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []capture
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		if len(b) < 28 || int(binary.BigEndian.Uint32(b[24:28])) != len(b) {
			return nil, fmt.Errorf("%s: not one ISAKMP message", n)
		}
		out = append(out, capture{
			i2r: strings.HasSuffix(n, "-i2r.bin"), hdr: b[:28], exch: b[18], flags: b[19],
			mid: binary.BigEndian.Uint32(b[20:24]), body: b[28:],
		})
	}
	return out, nil
}

// walkPayloads returns (type, body) of each payload of a cleartext body that
// starts with payload type first, and the length the chain covers.
func walkPayloads(first byte, body []byte) (types []byte, bodies [][]byte, end int, err error) {
	next := first
	off := 0
	for next != 0 {
		if off+4 > len(body) {
			return nil, nil, 0, fmt.Errorf("payload chain runs past the message")
		}
		l := int(binary.BigEndian.Uint16(body[off+2 : off+4]))
		if l < 4 || off+l > len(body) {
			return nil, nil, 0, fmt.Errorf("bad payload length %d", l)
		}
		types = append(types, next)
		bodies = append(bodies, body[off+4:off+l])
		next = body[off]
		off += l
	}
	return types, bodies, off, nil
}

// parseProposal maps strongSwan's proposal names to attribute values.
func parseProposal(p string) (hash HashAlgorithm, enc EncryptionAlgorithm, keyBits int, group GroupID, err error) {
	for _, a := range strings.Split(p, "/") {
		switch {
		case strings.HasPrefix(a, "AES_CBC_"):
			enc = EncryptionAES
			keyBits, _ = strconv.Atoi(strings.TrimPrefix(a, "AES_CBC_"))
		case a == "3DES_CBC":
			enc = Encryption3DES
		case a == "DES_CBC":
			enc = EncryptionDES
		case a == "PRF_HMAC_MD5":
			hash = HashMD5
		case a == "PRF_HMAC_SHA1":
			hash = HashSHA1
		case a == "PRF_HMAC_SHA2_256":
			hash = HashSHA2_256
		case a == "PRF_HMAC_SHA2_384":
			hash = HashSHA2_384
		case a == "PRF_HMAC_SHA2_512":
			hash = HashSHA2_512
		case strings.HasPrefix(a, "HMAC_"):
		case a == "MODP_768":
			group = GroupMODP768
		case a == "MODP_1024":
			group = GroupMODP1024
		case a == "MODP_1536":
			group = GroupMODP1536
		case a == "MODP_2048":
			group = GroupMODP2048
		case a == "MODP_3072":
			group = GroupMODP3072
		case a == "MODP_4096":
			group = GroupMODP4096
		case a == "ECP_256":
			group = GroupECP256
		case a == "ECP_384":
			group = GroupECP384
		case a == "ECP_521":
			group = GroupECP521
		case a == "CURVE_25519":
			group = GroupCurve25519
		default:
			err = fmt.Errorf("proposal %q: unknown %q", p, a)
		}
	}
	if hash == 0 || enc == 0 || group == 0 {
		err = fmt.Errorf("proposal %q incomplete", p)
	}
	return
}

var pskLine = regexp.MustCompile(`secret = "([^"]*)"`)

// kv accumulates the "key hex" lines of one run.
type kv struct {
	b strings.Builder
}

func (k *kv) add(key string, vals ...any) {
	k.b.WriteString(key)
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&k.b, " %x", v)
		default:
			fmt.Fprintf(&k.b, " %v", v)
		}
	}
	k.b.WriteByte('\n')
}

func extractRun(src runSource) (string, error) {
	run, dir := src.name, src.dir
	es, prop, err := parseCharonLog(filepath.Join(dir, "initiator.log"))
	if err != nil {
		return "", err
	}
	hashAlg, enc, keyBits, gid, err := parseProposal(prop)
	if err != nil {
		return "", err
	}
	conf, err := os.ReadFile(filepath.Join(dir, "initiator.swanctl.conf"))
	if err != nil {
		return "", err
	}
	caps, err := readCaptures(src.captures)
	if err != nil {
		return "", err
	}
	if len(caps) == 0 {
		return "", fmt.Errorf("%s: no datagrams at %s", run, src.captures)
	}
	g, err := NewGroup(gid)
	if err != nil {
		return "", err
	}
	var o kv
	o.b.WriteString("run " + run + "\n")
	o.add("#", "from", src.cite)
	o.add("hash", uint16(hashAlg))
	o.add("encr", uint16(enc), keyBits)
	o.add("group", uint16(gid))
	switch {
	case bytes.Contains(conf, []byte("auth = psk")):
		m := pskLine.FindSubmatch(conf)
		if m == nil {
			return "", fmt.Errorf("%s: no PSK", run)
		}
		o.add("auth", "psk")
		o.add("psk", m[1])
	case bytes.Contains(conf, []byte("auth = pubkey")):
		method := 3 // RSA signatures (RFC 2409, Appendix A)
		if strings.Contains(run, "ecdsa") {
			method = authECDSA256 // interop make-runs.sh: pki --type ecdsa --size 256
		}
		if b, err := os.ReadFile(filepath.Join(dir, "auth-method")); err == nil {
			if method, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				return "", err
			}
		}
		o.add("auth", "sig", method)
	default:
		return "", fmt.Errorf("%s: unknown auth", run)
	}

	// Phase 1 nonces and KE data, in the clear in MM3/MM4 or AM1/AM2.
	var ni, nr []byte
	for _, c := range caps {
		if (c.exch != 2 && c.exch != 4) || c.flags&1 != 0 {
			continue
		}
		types, bodies, _, err := walkPayloads(c.hdr[16], c.body)
		if err != nil {
			return "", err
		}
		for i, t := range types {
			if t == 10 && c.i2r && ni == nil {
				ni = bodies[i]
			}
			if t == 10 && !c.i2r && nr == nil {
				nr = bodies[i]
			}
		}
	}
	if ni == nil || nr == nil {
		return "", fmt.Errorf("%s: nonces not found", run)
	}
	o.add("ni", ni)
	o.add("nr", nr)

	hd := firstEntry(es, "HASH_I data")
	rd := firstEntry(es, "HASH_R data")
	pl := g.PublicLen()
	if len(hd) < 2*pl+16 || len(rd) < 2*pl+16 {
		return "", fmt.Errorf("%s: HASH_I/HASH_R data missing or short", run)
	}
	o.add("gxi", hd[:pl])
	o.add("gxr", hd[pl:2*pl])
	o.add("ckyi", hd[2*pl:2*pl+8])
	o.add("ckyr", hd[2*pl+8:2*pl+16])
	o.add("hashi_rest", hd[2*pl+16:])
	o.add("hashr_rest", rd[2*pl+16:])
	for _, l := range []struct{ label, key string }{
		{"shared Diffie Hellman secret", "gxy"}, {"SKEYID", "skeyid"}, {"SKEYID_d", "skeyid_d"},
		{"SKEYID_a", "skeyid_a"}, {"SKEYID_e", "skeyid_e"}, {"encryption key Ka", "ka"},
		{"initial IV", "iv1"}, {"HASH_I", "hash_i"}, {"HASH_R", "hash_r"},
	} {
		v := firstEntry(es, l.label)
		if v == nil {
			return "", fmt.Errorf("%s: no %q in log", run, l.label)
		}
		o.add(l.key, v)
	}
	natdC, natdH := allEntries(es, "natd_chunk"), allEntries(es, "natd_hash")
	for i := range min(len(natdC), len(natdH)) {
		o.add("natd", natdC[i], natdH[i])
	}

	// Phase 2 IVs: the last block of the last encrypted phase 1 message,
	// and the first IV strongSwan logged for each later message ID.
	var p1last []byte
	for _, c := range caps {
		if (c.exch == 2 || c.exch == 4) && c.flags&1 != 0 {
			p1last = c.body[len(c.body)-enc.BlockSize():]
		}
	}
	o.add("p1_last_block", p1last)
	firstIV := map[uint32][]byte{}
	var mids []uint32
	for _, e := range es {
		var mid uint32
		if n, _ := fmt.Sscanf(e.label, "next IV for MID %d", &mid); n == 1 && mid != 0 {
			if _, ok := firstIV[mid]; !ok {
				firstIV[mid] = e.data
				mids = append(mids, mid)
			}
		}
	}
	for _, mid := range mids {
		o.add("iv2", mid, firstIV[mid])
	}

	// Child SA keys: seed = [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b.
	dh := firstEntry(es, "DH secret")
	seedI, seedR := firstEntry(es, "initiator SA seed"), firstEntry(es, "responder SA seed")
	if seedI == nil || seedR == nil {
		return "", fmt.Errorf("%s: no SA seeds", run)
	}
	rest := seedI[len(dh):]
	nonces := rest[5:]
	if len(nonces)%2 != 0 {
		return "", fmt.Errorf("%s: odd nonce length in seed", run)
	}
	qni, qnr := nonces[:len(nonces)/2], nonces[len(nonces)/2:]
	o.add("qm_dh", dh)
	o.add("qm_protocol", rest[0])
	o.add("qm_spi_r", rest[1:5])
	o.add("qm_spi_i", seedR[len(dh)+1:len(dh)+5])
	o.add("qm_ni", qni)
	o.add("qm_nr", qnr)
	o.add("qm_seed_i", seedI)
	o.add("qm_seed_r", seedR)
	encI, intI := firstEntry(es, "encryption initiator key"), firstEntry(es, "integrity initiator key")
	encR, intR := firstEntry(es, "encryption responder key"), firstEntry(es, "integrity responder key")
	o.add("qm_keys_i", encI, len(intI), intI)
	o.add("qm_keys_r", encR, len(intR), intR)

	// Quick Mode and informational hashes: decrypt with strongSwan's Ka and
	// its logged IV, then split off the HASH payload.
	ka := firstEntry(es, "encryption key Ka")
	c, err := NewCipher(enc, keyBits, ka)
	if err != nil {
		return "", err
	}
	qmIV := map[uint32][]byte{}
	for _, cp := range caps {
		if cp.flags&1 == 0 || (cp.exch != 32 && cp.exch != 5) {
			continue
		}
		iv, ok := qmIV[cp.mid]
		if !ok {
			if iv, ok = firstIV[cp.mid]; !ok {
				continue // no IV logged by the initiator for this ID
			}
		}
		plain := make([]byte, len(cp.body))
		if err := c.DecryptCBC(plain, cp.body, iv); err != nil {
			return "", err
		}
		qmIV[cp.mid] = cp.body[len(cp.body)-len(iv):]
		types, bodies, end, err := walkPayloads(cp.hdr[16], plain)
		if err != nil || len(types) == 0 || types[0] != 8 {
			return "", fmt.Errorf("%s: message %d does not decrypt to HASH first (%v)", run, cp.mid, err)
		}
		hashLen := 4 + len(bodies[0])
		after := plain[hashLen:end]
		switch {
		case cp.exch == 32 && len(types) > 1 && cp.i2r:
			o.add("qm_hash1", cp.mid, bodies[0], after)
		case cp.exch == 32 && len(types) > 1:
			o.add("qm_hash2", cp.mid, bodies[0], after)
		case cp.exch == 32:
			o.add("qm_hash3", cp.mid, bodies[0])
		default:
			o.add("info_hash", cp.mid, bodies[0], after)
		}
	}
	o.b.WriteString("end\n\n")
	return o.b.String(), nil
}

func TestExtractStrongSwanVectors(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate " + katFile)
	}
	var srcs []runSource
	for _, base := range []string{runsDir, ownRunsDir} {
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			dir := filepath.Join(base, e.Name())
			if _, err := os.Stat(filepath.Join(dir, "initiator.log")); !e.IsDir() || err != nil {
				continue
			}
			src := runSource{name: e.Name(), dir: dir}
			if base == runsDir {
				src.captures = filepath.Join(capturesDir, "strongswan-"+e.Name()+"-[0-9][0-9]-*.bin")
				src.cite = "interop/testdata/strongswan-runs/" + e.Name() + "/initiator.log and isakmp/testdata/captures/strongswan-" + e.Name() + "-*.bin"
			} else {
				src.captures = filepath.Join(dir, "[0-9][0-9]-*.bin")
				src.cite = "ikecrypto/testdata/strongswan-h2/" + e.Name() + "/ (initiator.log, NN-DIR.bin)"
			}
			srcs = append(srcs, src)
		}
	}
	var out strings.Builder
	out.WriteString("# Known-answer vectors from strongSwan 5.9 runs (see strongswan_extract_test.go).\n")
	out.WriteString("# Regenerate: go test ./ikecrypto -run TestExtractStrongSwanVectors -update\n\n")
	for _, src := range srcs {
		s, err := extractRun(src)
		if err != nil {
			t.Errorf("%s: %v (skipped)", src.name, err)
			continue
		}
		out.WriteString(s)
	}
	if err := os.WriteFile(katFile, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
