package main

import (
	"encoding/hex"
	"regexp"
	"strings"
)

// libreswan 4 keeps SKEYID and its children inside NSS and logs only their
// handles, but with plutodebug crypt it dumps the Diffie-Hellman values'
// hash that starts phase 1's IV ("new IV hash ... final length N", RFC
// 2409 Appendix B) and each IPsec SA's KEYMAT ("ESP KEYMAT", then
// "inbound:" and "outbound:", the encryption key followed by the integrity
// key), which RFC 2409 section 5.5 derives from SKEYID_d: equal KEYMAT is
// equal SKEYID_d.

var (
	plutoIVRE   = regexp.MustCompile(`^\| new IV hash \S+ final length \d+$`)
	plutoDumpRE = regexp.MustCompile(`^\|   ((?:[0-9a-f]{2} {1,2})*[0-9a-f]{2})`)
)

// readPluto reads pluto's log (its standard error, plutodebug crypt). The
// phase 1 values carry only the IV hash (iked's IV must be its prefix);
// KEYMAT "inbound" is pluto's inbound SA, iked's outbound.
func readPluto(path string) (*keys, error) {
	k := &keys{}
	var cur *[]byte   // the value being read
	var dir string    // within ESP KEYMAT: iked's direction of the SA being read
	inKeymat := false // after "| ESP KEYMAT"
	err := eachLine(path, func(raw []byte) {
		line := strings.TrimRight(string(raw), " ")
		if m := plutoDumpRE.FindStringSubmatch(line); m != nil && cur != nil {
			// 16 bytes a line in four groups; the text after the hex
			// (three spaces on) is the bytes as characters.
			hexPart := line[4:]
			if i := strings.Index(hexPart, "   "); i >= 0 {
				hexPart = hexPart[:i]
			}
			b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
			if err == nil {
				*cur = append(*cur, b...)
			}
			return
		}
		cur = nil
		switch {
		case plutoIVRE.MatchString(line):
			k.P1 = append(k.P1, phase1{})
			cur = &k.P1[len(k.P1)-1].IV
			inKeymat = false
		case line == "| ESP KEYMAT":
			inKeymat = true
		case inKeymat && line == "|   inbound:":
			dir = "outbound"
		case inKeymat && line == "|   outbound:":
			dir = "inbound"
		default:
			inKeymat = false
		}
		if inKeymat && dir != "" && (line == "|   inbound:" || line == "|   outbound:") {
			k.Child = append(k.Child, child{Dir: dir})
			cur = &k.Child[len(k.Child)-1].Enc
			if dir == "inbound" {
				inKeymat = false
			}
		}
	})
	return k, err
}
