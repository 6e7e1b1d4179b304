package isakmp

import (
	"crypto/aes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and fuzz seed corpora in testdata/")

var fuzzBlock, _ = aes.NewCipher(make([]byte, 16))

// seedFile is the native fuzzing corpus file format ("go test fuzz v1").
func seedFile(args ...any) []byte {
	s := "go test fuzz v1\n"
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			s += "[]byte(" + strconv.Quote(string(v)) + ")\n"
		case uint8:
			s += fmt.Sprintf("byte(%d)\n", v)
		}
	}
	return []byte(s)
}

// fuzzSeeds builds every target's seed corpus from the real captures (the
// whole datagrams and each payload body in them) and from random payloads.
func fuzzSeeds(t *testing.T) map[string][][]byte {
	seeds := map[string][][]byte{}
	add := func(target string, args ...any) { seeds[target] = append(seeds[target], seedFile(args...)) }
	var payloads []Payload
	files, _ := filepath.Glob(filepath.Join("testdata", "captures", "*.bin"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add("FuzzDecode", b)
		m, err := Decode(b)
		if err != nil {
			continue
		}
		if m.Header.Flags&FlagEncryption != 0 {
			add("FuzzOpen", uint8(m.Header.NextPayload), m.Encrypted)
			continue
		}
		add("FuzzDecodeChain", uint8(m.Header.NextPayload), b[HeaderLen:])
		payloads = append(payloads, m.Payloads...)
	}
	// One of each kind, with a real certificate made by strongSwan's pki
	// (testdata/pki-selfsigned-ecdsa.der) and its subject as DN identity.
	der, err := os.ReadFile(filepath.Join("testdata", "pki-selfsigned-ecdsa.der"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	payloads = append(payloads, &Cert{Encoding: CertX509Signature, Data: der}, &CertRequest{CertType: CertX509Signature, Authority: cert.RawSubject},
		IDFromDN(cert.RawSubject), &Notification{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPI: make([]byte, 16), NotifyType: DPDRUThere, Data: []byte{0, 0, 0, 1}},
		&Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}}}, &NATOA{Addr: netip.MustParseAddr("198.51.100.7")},
		&Fragment{ID: 1, Number: 1, Data: []byte{1, 2, 3}},
		&Attr{CfgType: CfgRequest, Identifier: 1, Attributes: Attributes{BasicAttr(XAuthType, XAuthTypeGeneric), VarAttr(XAuthUserName, nil), VarAttr(XAuthUserPassword, nil)}},
		&Attr{CfgType: CfgSet, Identifier: 2, Attributes: Attributes{BasicAttr(XAuthStatus, XAuthStatusOK)}})
	r := rand.New(rand.NewPCG(7, 8))
	for range 40 {
		payloads = append(payloads, randPayload(r))
	}
	for _, p := range payloads {
		body, err := MarshalBody(p)
		if err != nil {
			t.Fatal(err)
		}
		switch p := p.(type) {
		case *SA:
			add("FuzzSA", body)
			for _, pr := range p.Proposals {
				b, _ := MarshalBody(pr)
				add("FuzzProposal", b)
				for _, tr := range pr.Transforms {
					b, _ := MarshalBody(tr)
					add("FuzzTransform", b)
				}
			}
		case *ID:
			add("FuzzID", body)
		case *Cert:
			add("FuzzCert", body)
		case *CertRequest:
			add("FuzzCertRequest", body)
		case *Notification:
			add("FuzzNotification", body)
		case *Delete:
			add("FuzzDelete", body)
		case *NATOA:
			add("FuzzNATOA", body)
		case *Fragment:
			add("FuzzFragment", body)
		case *Attr:
			add("FuzzAttr", body)
		default:
			add("FuzzData", uint8(p.Type()), body)
		}
	}
	return seeds
}

// TestFuzzSeeds writes the seed corpora with -update, and otherwise checks
// that every fuzz target has one (so `go test` replays them).
func TestFuzzSeeds(t *testing.T) {
	targets := []string{"FuzzDecode", "FuzzDecodeChain", "FuzzOpen", "FuzzSA", "FuzzProposal", "FuzzTransform", "FuzzID",
		"FuzzCert", "FuzzCertRequest", "FuzzNotification", "FuzzDelete", "FuzzNATOA", "FuzzFragment", "FuzzAttr", "FuzzData"}
	if *update {
		seeds := fuzzSeeds(t)
		for _, target := range targets {
			dir := filepath.Join("testdata", "fuzz", target)
			os.MkdirAll(dir, 0o755)
			seen := map[string]bool{}
			for _, s := range seeds[target] {
				sum := sha256.Sum256(s)
				name := hex.EncodeToString(sum[:8])
				if seen[name] {
					continue
				}
				seen[name] = true
				if err := os.WriteFile(filepath.Join(dir, "seed-"+name), s, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, target := range targets {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if len(files) == 0 {
			t.Errorf("no seed corpus for %s (run go test ./isakmp -run TestFuzzSeeds -update)", target)
		}
	}
}
