package interop

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"
)

// ScanResult is what ike-scan printed for one target.
type ScanResult struct {
	// Outcome is "Main Mode Handshake returned", "Aggressive Mode Handshake
	// returned", "Notify message 14 (NO-PROPOSAL-CHOSEN)" or "" (no answer).
	Outcome string
	// SA is the responder's chosen transform, e.g.
	// "Enc=3DES Hash=SHA1 Group=2:modp1024 Auth=PSK LifeType=Seconds LifeDuration=28800".
	SA   string
	VIDs []string // "afcad71368a1f1c96b8696fc77570100 (Dead Peer Detection v1.0)"
	ID   string   // Aggressive Mode: the responder's ID, e.g. "Type=ID_FQDN, Value=responder.example"
	Raw  string   // everything ike-scan printed
}

// Handshake tells whether the responder answered with an SA (phase 1
// message 2) rather than a notify or nothing.
func (r ScanResult) Handshake() bool { return strings.HasSuffix(r.Outcome, "Handshake returned") }

// IKEScan runs ike-scan in ns against target with args (e.g. "-M",
// "--trans=7/128,4,1,14", "-A", "--id=NAME") and parses its answer.
func IKEScan(ns *Namespace, target string, args ...string) (ScanResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, IKEScanPath, append(append([]string{"--retry=2"}, args...), target)...)
	out, err := cmd.CombinedOutput()
	res := ParseIKEScan(string(out), target)
	if err != nil {
		return res, fmt.Errorf("interop: ike-scan %s: %w:\n%s", strings.Join(args, " "), err, out)
	}
	return res, nil
}

// ParseIKEScan reads ike-scan's output for target.
func ParseIKEScan(out, target string) ScanResult {
	res := ScanResult{Raw: out}
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if first, rest, ok := strings.Cut(line, "\t"); ok && first == target {
			res.Outcome, in = strings.TrimSpace(rest), true
			continue
		}
		if !in || !strings.HasPrefix(line, "\t") {
			in = in && strings.HasPrefix(line, "\t")
			continue
		}
		field := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(field, "SA=("):
			res.SA = strings.TrimSuffix(strings.TrimPrefix(field, "SA=("), ")")
		case strings.HasPrefix(field, "VID="):
			res.VIDs = append(res.VIDs, strings.TrimPrefix(field, "VID="))
		case strings.HasPrefix(field, "ID("):
			res.ID = strings.TrimSuffix(strings.TrimPrefix(field, "ID("), ")")
		}
	}
	return res
}
