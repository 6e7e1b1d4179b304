// Command keycompare checks that iked and the peer of a container setup
// (interop/docker, scripts/interop-docker.sh) derived the same keys: it
// reads iked's JSON log written at its keys level and the peer's log
// (strongSwan's charon at ike=4 chd=4, parsed by interop.ParseKeys;
// libreswan's pluto with plutodebug crypt; vpnc at --debug 3), and
// requires every ISAKMP SA iked logged to have the peer's SKEYID_d,
// SKEYID_a and SKEYID_e (and SKEYID, Ka and the initial IV where the peer
// logs them), and every IPsec SA key iked logged (both directions) to be
// one the peer derived in the same direction (unless the peer logs none:
// vpnc). It prints what it compared and exits 1 on a difference or
// when either log holds no keys.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/iked/iked/interop"
)

// phase1 are one ISAKMP SA's keys; nil values were not logged.
type phase1 struct {
	SKEYIDd, SKEYIDa, SKEYIDe, Ka, IV []byte
	SKEYID                            []byte
}

// child is one IPsec SA's keys; Flow "initiator" protects what the Quick
// Mode initiator sends (the name strongSwan's chd log uses), Dir is
// iked's direction of the SA. Either may be unknown (""). Integ nil: Enc
// is the whole KEYMAT, the encryption key followed by the integrity key.
type child struct {
	Flow, Dir  string
	Enc, Integ []byte
}

// matches: c (iked's) and p (the peer's) are the same SA's keys.
func (c child) matches(p child) bool {
	if (p.Flow != "" && p.Flow != c.Flow) || (p.Dir != "" && p.Dir != c.Dir) {
		return false
	}
	if p.Integ == nil {
		return bytes.Equal(p.Enc, append(append([]byte{}, c.Enc...), c.Integ...))
	}
	return bytes.Equal(p.Enc, c.Enc) && bytes.Equal(p.Integ, c.Integ)
}

type keys struct {
	P1    []phase1
	Child []child
	// noChild: the peer logs no IPsec SA keys (why); iked's are not
	// compared.
	noChild string
}

func main() {
	ikedLog := flag.String("iked", "", "iked's log (JSON, -debug keys)")
	swanLog := flag.String("strongswan", "", "charon's log (ike=4, chd=4)")
	plutoLog := flag.String("libreswan", "", "pluto's log (plutodebug crypt)")
	vpncLog := flag.String("vpnc", "", "vpnc's output (--debug 3)")
	phase1Only := flag.Bool("phase1-only", false, "do not require IPsec SA keys (a peer that could not install its IPsec SA stops before iked derives them)")
	flag.Parse()
	ik, err := readIked(*ikedLog)
	if err != nil {
		fail(err)
	}
	var peer *keys
	switch {
	case *swanLog != "":
		peer, err = readCharon(*swanLog)
	case *plutoLog != "":
		peer, err = readPluto(*plutoLog)
	case *vpncLog != "":
		peer, err = readVpnc(*vpncLog)
	default:
		err = fmt.Errorf("keycompare: -strongswan, -libreswan or -vpnc needed")
	}
	if err != nil {
		fail(err)
	}
	msg, err := compare(ik, peer, *phase1Only)
	if err != nil {
		fail(err)
	}
	fmt.Println(msg)
}

func fail(err error) {
	fmt.Println(err)
	os.Exit(1)
}

// readIked takes the "ISAKMP SA keys" (phase1/auth.go) and "IPsec SA keys"
// (quickmode/keys.go) lines of iked's JSON log.
func readIked(path string) (*keys, error) {
	k := &keys{}
	err := eachLine(path, func(line []byte) {
		var l map[string]any
		if json.Unmarshal(line, &l) != nil || l["level"] != "keys" {
			return
		}
		h := func(name string) []byte {
			s, _ := l[name].(string)
			b, _ := hex.DecodeString(s)
			return b
		}
		switch l["msg"] {
		case "ISAKMP SA keys":
			k.P1 = append(k.P1, phase1{h("SKEYID_d"), h("SKEYID_a"), h("SKEYID_e"), h("Ka"), h("initial IV"), h("SKEYID")})
		case "IPsec SA keys":
			flow, _ := l["flow"].(string)
			dir, _ := l["direction"].(string)
			k.Child = append(k.Child, child{flow, dir, h("encryption key"), h("integrity key")})
		}
	})
	return k, err
}

// eachLine calls f with each line of the file at path (up to 1 MiB long).
func eachLine(path string, f func(line []byte)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
	return sc.Err()
}

func readCharon(path string) (*keys, error) {
	ck, err := interop.ReadKeys(path)
	if err != nil {
		return nil, err
	}
	k := &keys{}
	for _, s := range ck.IKE {
		if len(s.SKEYIDd) > 0 {
			k.P1 = append(k.P1, phase1{SKEYIDd: s.SKEYIDd, SKEYIDa: s.SKEYIDa, SKEYIDe: s.SKEYIDe, Ka: s.Ka, IV: s.IV, SKEYID: s.SKEYID})
		}
	}
	for _, c := range ck.Child {
		k.Child = append(k.Child, child{Flow: "initiator", Enc: c.EncI, Integ: c.IntegI},
			child{Flow: "responder", Enc: c.EncR, Integ: c.IntegR})
	}
	return k, nil
}

func compare(ik, peer *keys, phase1Only bool) (string, error) {
	if len(ik.P1) == 0 || (len(ik.Child) == 0 && !phase1Only) {
		return "", fmt.Errorf("keys: iked logged %d ISAKMP SAs and %d IPsec SAs at its keys level", len(ik.P1), len(ik.Child))
	}
	values := 0
	for _, s := range ik.P1 {
		var p *phase1
		for i := range peer.P1 {
			if bytes.Equal(peer.P1[i].SKEYIDd, s.SKEYIDd) {
				p = &peer.P1[i]
			}
		}
		if p == nil {
			// libreswan: no SKEYID values, only the IV hash that iked's
			// initial IV is the start of; KEYMAT stands for SKEYID_d.
			for i := range peer.P1 {
				if peer.P1[i].SKEYIDd == nil && peer.P1[i].SKEYID == nil && len(s.IV) > 0 && bytes.HasPrefix(peer.P1[i].IV, s.IV) {
					p = &phase1{IV: s.IV}
				}
			}
		}
		if p == nil {
			return "", fmt.Errorf("keys: the peer logged no SKEYID_d %x nor an IV hash starting with iked's IV %x (it logged %d)", s.SKEYIDd, s.IV, len(peer.P1))
		}
		if p.SKEYIDd == nil {
			values++ // the IV
			continue
		}
		for _, v := range []struct {
			name      string
			iked, got []byte
			required  bool
		}{{"SKEYID", s.SKEYID, p.SKEYID, false},
			{"SKEYID_a", s.SKEYIDa, p.SKEYIDa, true}, {"SKEYID_e", s.SKEYIDe, p.SKEYIDe, true},
			{"Ka", s.Ka, p.Ka, false}, {"initial IV", s.IV, p.IV, false}} {
			if len(v.got) == 0 && !v.required {
				continue
			}
			if !bytes.Equal(v.iked, v.got) {
				return "", fmt.Errorf("keys: %s: iked %x, peer %x", v.name, v.iked, v.got)
			}
			values++
		}
	}
	if peer.noChild != "" {
		return fmt.Sprintf("keys agree: %d ISAKMP SA(s) (%d values); %d IPsec SA key sets not compared: %s", len(ik.P1), values, len(ik.Child), peer.noChild), nil
	}
	for _, c := range ik.Child {
		found := false
		for _, p := range peer.Child {
			found = found || c.matches(p)
		}
		if !found {
			return "", fmt.Errorf("keys: iked's %s IPsec SA key %x/%x is none the peer derived", c.Flow, c.Enc, c.Integ)
		}
	}
	return fmt.Sprintf("keys agree: %d ISAKMP SA(s) (%d values), %d IPsec SA key sets", len(ik.P1), values, len(ik.Child)), nil
}
