package policymgr

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/notify"
)

// maxNodes bounds the YAML nodes one load visits, aliases expanded, so
// that a file of nested aliases (a "billion laughs") cannot stall the
// daemon. It is about what a file of MaxFileSize bytes holds without
// aliases: a policy of 10,000 connections has some 300,000 nodes.
const maxNodes = 2000000

// decoder walks the file's yaml.Node tree by hand rather than with
// yaml.Unmarshal into structs, so that every finding names the key and its
// line in the policy file's own words, all of them in one pass.
type decoder struct {
	file string
	dir  string // the file's folder: relative paths start here
	// info is the policy file's mode and owner as it was read; nil for a
	// policy parsed from memory.
	info     os.FileInfo
	findings []Finding
	visited  int
	overflow bool
}

func (d *decoder) add(line int, m notify.Message) {
	d.findings = append(d.findings, Finding{Message: m, File: d.file, Line: line})
}

// errorf records a non-catalog, serious finding at n's line.
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(line, plain(line, format, args...))
}

// warnf records a non-catalog warning at n's line: the policy loads.
func (d *decoder) warnf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(line, plainAt(notify.LevelWarning, line, format, args...))
}

// catalog records a catalog message at n's line.
func (d *decoder) catalog(n *yaml.Node, m notify.Message) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(line, m)
}

// resolve follows aliases and counts the node against the budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	d.visited++
	if d.visited > maxNodes && !d.overflow {
		d.overflow = true
		d.errorf(n, "the file has more than %d YAML nodes (aliases expanded); not read further", maxNodes)
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// isNull reports an absent value: `key:` or `key: null` or `key: ~`.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// mapping walks the pairs of a mapping node in file order. A key not in
// known is an unknown key, a key given twice a duplicate; both name the
// line. fn sees each known key once (the first time it is given).
func (d *decoder) mapping(n *yaml.Node, where string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = d.resolve(n)
	if d.overflow {
		return false
	}
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys, not %s", where, kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if d.overflow {
			return false
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s has a key that is %s, not a name", where, kindName(k))
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			d.errorf(k, "duplicate key %q in %s (first given at line %d)", key, where, first)
			continue
		}
		seen[key] = k.Line
		if known != nil && !contains(known, key) {
			if s := suggest(key, known); s != "" {
				d.errorf(k, "unknown key %q in %s (did you mean %q?)", key, where, s)
			} else {
				d.errorf(k, "unknown key %q in %s", key, where)
			}
			continue
		}
		fn(key, k, v)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the known key nearest to key when it is a likely typo
// (edit distance at most 2).
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns the text of a scalar value; what names it in errors.
func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	n = d.resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not %s", what, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// str is a scalar that must not be empty.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	s, ok := d.scalar(n, what)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, "%s is empty", what)
		return "", false
	}
	return s, ok
}

// integer parses a decimal (or 0x hexadecimal) integer within [lo, hi].
func (d *decoder) integer(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		d.errorf(n, "%s must be a whole number, not %q", what, s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, "%s must be between %d and %d, not %d", what, lo, hi, v)
		return 0, false
	}
	return v, true
}

// boolean parses true/false (and YAML 1.1's yes/no/on/off).
func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	d.errorf(n, "%s must be true or false, not %q", what, s)
	return false, false
}

// duration parses a Go duration (`90s`, `8h`); a bare whole number is
// seconds. The result is within [lo, hi].
func (d *decoder) duration(n *yaml.Node, what string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	var v time.Duration
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs < 0 || secs > math.MaxInt64/int64(time.Second) {
			d.errorf(n, "%s %q is out of range", what, s)
			return 0, false
		}
		v = time.Duration(secs) * time.Second
	} else if v, err = time.ParseDuration(s); err != nil {
		d.errorf(n, "%s must be a duration such as 90s or 8h, not %q", what, s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, "%s must be between %v and %v, not %v", what, lo, hi, v)
		return 0, false
	}
	return v, true
}

// list returns the scalars of a list; a single scalar is a list of one.
func (d *decoder) list(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return nil, nil, true
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, []*yaml.Node{n}, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return nil, nil, false
	}
	var out []string
	var nodes []*yaml.Node
	ok := true
	for _, e := range n.Content {
		s, good := d.str(e, what+" entry")
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
		nodes = append(nodes, d.resolve(e))
	}
	return out, nodes, ok
}

// hexKey decodes a manual key written `0x…`.
func (d *decoder) hexKey(n *yaml.Node, what string) ([]byte, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return nil, false
	}
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		d.errorf(n, "%s must be hexadecimal written 0x…", what)
		return nil, false
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil || len(b) == 0 {
		d.errorf(n, "%s is not an even number of hexadecimal digits after 0x", what)
		return nil, false
	}
	return b, true
}

// path resolves a path of the file against the file's folder.
func (d *decoder) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}
