package main

import (
	"bufio"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
)

// vpnc at --debug 3 dumps phase 1's values as it derives them (its
// hex_dump, config.c): "skeyid", "skeyid_d", "skeyid_a", "skeyid_e",
// "enc-key" (the ISAKMP SA's encryption key, strongSwan's Ka) and
// "current_iv" (the first one: the hash of both public values that starts
// phase 1's IV, RFC 2409 Appendix B), a value of up to 16 bytes on the
// name's line, a longer one on the lines after it in groups of four bytes.
// It logs no IPsec SA key (gen_keymat only says how many bytes it made).

var (
	vpncNameRE = regexp.MustCompile(`^\s*(skeyid|skeyid_d|skeyid_a|skeyid_e|enc-key|current_iv):\s*((?:[0-9a-f]{2,8} ?)*)$`)
	vpncHexRE  = regexp.MustCompile(`^\s+((?:[0-9a-f]{2,8} ?)+)$`)
)

// readVpnc reads vpnc's output at --debug 3: one phase1 per "skeyid", its
// first "current_iv" as the initial IV. The keys say that vpnc logs no
// IPsec SA keys.
func readVpnc(path string) (*keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	k := &keys{noChild: "vpnc logs no IPsec SA keys"}
	var name, value string
	flush := func() {
		b, err := hex.DecodeString(strings.ReplaceAll(value, " ", ""))
		if name == "" || err != nil {
			name, value = "", ""
			return
		}
		if name == "skeyid" {
			k.P1 = append(k.P1, phase1{SKEYID: b})
		} else if n := len(k.P1); n > 0 {
			p := &k.P1[n-1]
			switch name {
			case "skeyid_d":
				p.SKEYIDd = b
			case "skeyid_a":
				p.SKEYIDa = b
			case "skeyid_e":
				p.SKEYIDe = b
			case "enc-key":
				p.Ka = b
			case "current_iv":
				if p.IV == nil {
					p.IV = b
				}
			}
		}
		name, value = "", ""
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if m := vpncNameRE.FindStringSubmatch(line); m != nil {
			flush()
			name, value = m[1], m[2]
			continue
		}
		if m := vpncHexRE.FindStringSubmatch(line); m != nil && name != "" {
			value += m[1]
			continue
		}
		flush()
	}
	flush()
	return k, sc.Err()
}
