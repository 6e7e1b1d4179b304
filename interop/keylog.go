package interop

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Dump is one binary value charon logged at level 4 (ike=4, chd=4): a title
// line "TITLE => N bytes @ 0xADDR" followed by hex dump lines
// "   0: 5D 99 60 ...  ascii". Tests compare these with iked's own keys.
type Dump struct {
	Line   int    // line number of the title, from 1
	Thread int    // charon worker thread
	Group  string // log group: "IKE", "CHD", "ENC", ...
	Title  string // e.g. "SKEYID_d", "encryption initiator key"
	Data   []byte
}

// IKEKeys are the phase 1 values of one ISAKMP SA (RFC 2409, 5).
type IKEKeys struct {
	DHSecret []byte // g^xy
	SKEYID   []byte
	SKEYIDd  []byte
	SKEYIDa  []byte
	SKEYIDe  []byte
	Ka       []byte // the cipher key, expanded when SKEYID_e is short (RFC 2409, App. B)
	IV       []byte // initial IV: H(g^xi | g^xr) cut to the block size
	HashI    []byte // HASH_I as computed (sent or checked)
	HashR    []byte
}

// ChildKeys are the keys of one CHILD_SA (a pair of IPsec SAs), named from
// the initiator's view: EncI/IntegI protect initiator-to-responder traffic.
// For AES-GCM EncI/EncR include the 4-byte salt and there is no integrity key.
type ChildKeys struct {
	DHSecret []byte // the Quick Mode g^xy, with PFS only
	SeedI    []byte // KEYMAT input for the SA to the responder (protocol | SPI | [g^xy |] Ni_b | Nr_b)
	SeedR    []byte
	EncI     []byte
	EncR     []byte
	IntegI   []byte
	IntegR   []byte
}

// IVRecord is one "next IV for MID" value: the IV after a message of
// exchange MID (RFC 2409, App. B).
type IVRecord struct {
	MID uint32
	IV  []byte
}

// Keys is everything key-related one charon log holds, in log order.
type Keys struct {
	IKE   []IKEKeys
	Child []ChildKeys
	IVs   []IVRecord
	Dumps []Dump
}

// maxDump bounds one logged value; charon's largest (HASH data with a
// certificate, a MODP-8192 secret) are a few kilobytes.
const maxDump = 1 << 20

var (
	dumpTitleRE = regexp.MustCompile(`(\d+)\[([A-Z]+)\] (.*?) => (\d+) bytes @ 0x[0-9a-fA-F]+\s*$`)
	dumpLineRE  = regexp.MustCompile(`(\d+)\[([A-Z]+)\]\s+(\d+): (.*)$`)
	nextIVRE    = regexp.MustCompile(`^next IV for MID (\d+)$`)
)

// ParseDumps reads every binary value from a charon log. Hex lines are
// matched to their title by thread, so values logged by parallel threads do
// not mix.
func ParseDumps(r io.Reader) ([]Dump, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	open := map[int]int{} // thread -> index in dumps of the value being read
	want := map[int]int{} // thread -> bytes the value announced
	var dumps []Dump
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := dumpTitleRE.FindStringSubmatch(line); m != nil {
			thread, _ := strconv.Atoi(m[1])
			size, err := strconv.Atoi(m[4])
			if err != nil || size > maxDump {
				return nil, fmt.Errorf("interop: log line %d: bad size %q", n, m[4])
			}
			if i, ok := open[thread]; ok && len(dumps[i].Data) != want[thread] {
				return nil, fmt.Errorf("interop: log line %d: %q ended after %d of %d bytes", n, dumps[i].Title, len(dumps[i].Data), want[thread])
			}
			dumps = append(dumps, Dump{Line: n, Thread: thread, Group: m[2], Title: m[3], Data: make([]byte, 0, size)})
			open[thread], want[thread] = len(dumps)-1, size
			if size == 0 {
				delete(open, thread)
			}
			continue
		}
		m := dumpLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		thread, _ := strconv.Atoi(m[1])
		i, ok := open[thread]
		if !ok {
			continue
		}
		off, _ := strconv.Atoi(m[3])
		d := &dumps[i]
		if off != len(d.Data) {
			return nil, fmt.Errorf("interop: log line %d: offset %d, expected %d in %q", n, off, len(d.Data), d.Title)
		}
		count := min(16, want[thread]-off)
		rest := m[4]
		if len(rest) < 3*count-1 {
			return nil, fmt.Errorf("interop: log line %d: short hex line", n)
		}
		for k := range count {
			b, err := hex.DecodeString(rest[3*k : 3*k+2])
			if err != nil {
				return nil, fmt.Errorf("interop: log line %d: %v", n, err)
			}
			d.Data = append(d.Data, b[0])
		}
		if len(d.Data) == want[thread] {
			delete(open, thread)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for th, i := range open {
		return nil, fmt.Errorf("interop: %q (thread %d) ended after %d of %d bytes", dumps[i].Title, th, len(dumps[i].Data), want[th])
	}
	return dumps, nil
}

// ParseKeys reads a charon log written at ike=4, chd=4 and groups its values
// into ISAKMP SAs and CHILD_SAs. An ISAKMP SA starts at its "shared Diffie
// Hellman secret"; HASH_I/HASH_R go to the latest one. A CHILD_SA starts at
// its "DH secret" (PFS) or "initiator SA seed", per thread.
func ParseKeys(r io.Reader) (*Keys, error) {
	dumps, err := ParseDumps(r)
	if err != nil {
		return nil, err
	}
	k := &Keys{Dumps: dumps}
	ike := map[int]int{}   // thread -> index in k.IKE being derived
	child := map[int]int{} // thread -> index in k.Child being derived
	curIKE := func(th int) *IKEKeys {
		if i, ok := ike[th]; ok {
			return &k.IKE[i]
		}
		k.IKE = append(k.IKE, IKEKeys{})
		ike[th] = len(k.IKE) - 1
		return &k.IKE[len(k.IKE)-1]
	}
	newChild := func(th int) *ChildKeys {
		k.Child = append(k.Child, ChildKeys{})
		child[th] = len(k.Child) - 1
		return &k.Child[len(k.Child)-1]
	}
	curChild := func(th int) *ChildKeys {
		if i, ok := child[th]; ok {
			return &k.Child[i]
		}
		return newChild(th)
	}
	for _, d := range dumps {
		switch d.Group {
		case "IKE":
			switch d.Title {
			case "shared Diffie Hellman secret":
				k.IKE = append(k.IKE, IKEKeys{DHSecret: d.Data})
				ike[d.Thread] = len(k.IKE) - 1
			case "SKEYID":
				curIKE(d.Thread).SKEYID = d.Data
			case "SKEYID_d":
				curIKE(d.Thread).SKEYIDd = d.Data
			case "SKEYID_a":
				curIKE(d.Thread).SKEYIDa = d.Data
			case "SKEYID_e":
				curIKE(d.Thread).SKEYIDe = d.Data
			case "encryption key Ka":
				curIKE(d.Thread).Ka = d.Data
			case "initial IV":
				curIKE(d.Thread).IV = d.Data
				delete(ike, d.Thread)
			case "HASH_I", "HASH_R":
				if len(k.IKE) == 0 {
					continue
				}
				last := &k.IKE[len(k.IKE)-1]
				if d.Title == "HASH_I" {
					last.HashI = d.Data
				} else {
					last.HashR = d.Data
				}
			default:
				if m := nextIVRE.FindStringSubmatch(d.Title); m != nil {
					mid, err := strconv.ParseUint(m[1], 10, 32)
					if err != nil {
						return nil, fmt.Errorf("interop: log line %d: %v", d.Line, err)
					}
					k.IVs = append(k.IVs, IVRecord{MID: uint32(mid), IV: d.Data})
				}
			}
		case "CHD":
			switch d.Title {
			case "DH secret":
				newChild(d.Thread).DHSecret = d.Data
			case "initiator SA seed":
				c := curChild(d.Thread)
				if c.SeedI != nil {
					c = newChild(d.Thread)
				}
				c.SeedI = d.Data
			case "responder SA seed":
				curChild(d.Thread).SeedR = d.Data
			case "encryption initiator key":
				c := curChild(d.Thread)
				if c.EncI != nil {
					c = newChild(d.Thread)
				}
				c.EncI = d.Data
			case "encryption responder key":
				curChild(d.Thread).EncR = d.Data
			case "integrity initiator key":
				curChild(d.Thread).IntegI = d.Data
			case "integrity responder key":
				curChild(d.Thread).IntegR = d.Data
				delete(child, d.Thread)
			}
		}
	}
	return k, nil
}

// Find returns the values titled title, in log order (e.g. "Hash(1)").
func (k *Keys) Find(title string) [][]byte {
	var out [][]byte
	for _, d := range k.Dumps {
		if strings.EqualFold(d.Title, title) {
			out = append(out, d.Data)
		}
	}
	return out
}

// ReadKeys is ParseKeys of the charon log at path.
func ReadKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseKeys(f)
}
