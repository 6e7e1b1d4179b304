package interop

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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

// ParseIKEScan reads ike-scan's output for target, in both its layouts:
// one field per line after a tab (-M), or all fields on the target's line
// separated by spaces.
func ParseIKEScan(out, target string) ScanResult {
	res := ScanResult{Raw: out}
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		first, rest, ok := strings.Cut(line, "\t")
		switch {
		case ok && first == target:
			var fields string
			res.Outcome, fields = splitOutcome(rest)
			in = true
			for _, f := range splitFields(fields) {
				res.field(f)
			}
		case ok && in && first == "":
			res.field(strings.TrimSpace(rest))
		default:
			in = false
		}
	}
	return res
}

// splitOutcome cuts "Main Mode Handshake returned", "Notify message 14
// (NO-PROPOSAL-CHOSEN)" or the like off the front of s.
func splitOutcome(s string) (outcome, rest string) {
	if i := strings.Index(s, "Handshake returned"); i >= 0 {
		i += len("Handshake returned")
		return s[:i], s[i:]
	}
	if strings.HasPrefix(s, "Notify message") {
		if i := strings.IndexByte(s, ')'); i >= 0 {
			return s[:i+1], s[i+1:]
		}
	}
	return strings.TrimSpace(s), ""
}

// splitFields splits a one-line answer at spaces outside parentheses; a
// "(name)" token joins the field before it ("VID=... (XAUTH)").
func splitFields(s string) []string {
	var out []string
	depth, start := 0, -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		tok := s[start:end]
		if strings.HasPrefix(tok, "(") && len(out) > 0 {
			out[len(out)-1] += " " + tok
		} else {
			out = append(out, tok)
		}
		start = -1
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' && depth == 0:
			flush(i)
		default:
			if start < 0 {
				start = i
			}
			if c == '(' {
				depth++
			} else if c == ')' && depth > 0 {
				depth--
			}
		}
	}
	flush(len(s))
	return out
}

// field records one "NAME=(...)"-style field of an ike-scan answer.
func (r *ScanResult) field(f string) {
	switch {
	case strings.HasPrefix(f, "SA=("):
		r.SA = strings.TrimSuffix(strings.TrimPrefix(f, "SA=("), ")")
	case strings.HasPrefix(f, "VID="):
		r.VIDs = append(r.VIDs, strings.TrimPrefix(f, "VID="))
	case strings.HasPrefix(f, "ID("):
		r.ID = strings.TrimSuffix(strings.TrimPrefix(f, "ID("), ")")
	}
}

// PSKCrackPath is psk-crack from the ike-scan package.
var PSKCrackPath = "/usr/bin/psk-crack"

// CrackAggressivePSK runs ike-scan in Aggressive Mode (ID_FQDN id, the
// default transforms, DH group 2 unless args say otherwise) against target
// and then psk-crack over words. It returns the word whose HASH_R matches, or
// "" when none does: a responder that computes HASH_R wrongly (RFC 2409, 5.4)
// is found out by a tool that shares no code with it.
func CrackAggressivePSK(t testing.TB, ns *Namespace, target, id string, words []string, args ...string) (ScanResult, string, error) {
	t.Helper()
	dir := t.TempDir()
	crack := filepath.Join(dir, "hash_r.crack")
	res, err := IKEScan(ns, target, append([]string{"-A", "--id=" + id, "--idtype=2", "--pskcrack=" + crack}, args...)...)
	if err != nil {
		return res, "", err
	}
	if !res.Handshake() {
		return res, "", fmt.Errorf("interop: ike-scan -A got %q, no handshake:\n%s", res.Outcome, res.Raw)
	}
	wl := filepath.Join(dir, "words")
	if err := os.WriteFile(wl, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		return res, "", err
	}
	out, err := exec.Command(PSKCrackPath, "-d", wl, crack).CombinedOutput()
	if err != nil {
		return res, "", fmt.Errorf("interop: psk-crack: %w: %s", err, out)
	}
	if m := pskCrackRE.FindSubmatch(out); m != nil {
		return res, string(m[1]), nil
	}
	return res, "", nil
}

var pskCrackRE = regexp.MustCompile(`key "(.*)" matches`)
