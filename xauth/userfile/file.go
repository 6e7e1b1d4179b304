package userfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/iked/iked/pki"
)

// MaxSize bounds the users file, so that a mistaken path cannot make the
// daemon read a disk image.
const MaxSize = 16 << 20

// MaxName is the longest user name accepted, in bytes.
const MaxName = 255

// LineError is a malformed line of the users file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Table is a users file's contents: each user's hash.
type Table struct {
	users map[string]Hash
	lines map[string]int
	// dummy is checked for a name the file does not hold (Prepare).
	dummy Hash
}

// Len returns how many users the file holds.
func (t *Table) Len() int { return len(t.users) }

// Parse decodes a users file: one "name:HASH" a line; empty lines and
// lines starting with # are skipped. The first malformed line is a
// *LineError.
func Parse(data []byte) (*Table, error) {
	t := &Table{users: map[string]Hash{}, lines: map[string]int{}}
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		s := strings.TrimSuffix(string(line), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		name, hash, ok := strings.Cut(s, ":")
		switch {
		case !ok:
			return nil, &LineError{n, errors.New(`it is not "name:HASH"`)}
		case name == "":
			return nil, &LineError{n, errors.New("the user name is empty")}
		case len(name) > MaxName:
			return nil, &LineError{n, fmt.Errorf("the user name is longer than %d bytes", MaxName)}
		case !utf8.ValidString(name) || strings.ContainsAny(name, " \t"):
			return nil, &LineError{n, errors.New("the user name is not UTF-8 without blanks")}
		case strings.Contains(hash, ":"):
			return nil, &LineError{n, fmt.Errorf("user %q: more than one ':' (an htdigest file? htpasswd -B makes the right one)", name)}
		}
		if first, dup := t.lines[name]; dup {
			return nil, &LineError{n, fmt.Errorf("user %q is on line %d already", name, first)}
		}
		h, err := ParseHash(strings.TrimSpace(hash))
		if err != nil {
			return nil, &LineError{n, fmt.Errorf("user %q: %v", name, err)}
		}
		t.users[name] = h
		t.lines[name] = n
	}
	return t, nil
}

// Read reads and parses the users file at path. It refuses a file that is
// not regular, that group or others may read (the hashes can be guessed
// at offline), that belongs to a user other than root and the daemon's,
// or that is larger than MaxSize. fi is the file as it was read.
func Read(path string) (t *Table, fi os.FileInfo, err error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("%s: %w", path, pe.Err)
		}
		return nil, nil, err
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, nil, fmt.Errorf("%s has mode %04o: group or others may read it; make it readable by its owner only (chmod 600)", path, uint32(perm))
	}
	if err := pki.CheckOwner(path, fi); err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, MaxSize)
	}
	t, err = Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %w", path, err)
	}
	return t, fi, nil
}

// Prepare makes the hash that Verify checks a name the file does not hold
// against: a random password hashed with the parameters most of the
// file's users have (bcrypt cost 10 when it has none). It takes one hash's
// time.
func (t *Table) Prepare() error {
	count := map[string]int{}
	var model Hash
	best := 0
	// In file order, so that a tie goes to the first.
	names := make([]string, 0, len(t.users))
	for name := range t.users {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return t.lines[names[i]] < t.lines[names[j]] })
	for _, name := range names {
		h := t.users[name]
		p := h.Params()
		count[p]++
		if count[p] > best {
			best, model = count[p], h
		}
	}
	if best == 0 {
		model = Hash{kind: Bcrypt, cost: bcrypt10}
	}
	d, err := dummyLike(model)
	if err != nil {
		return err
	}
	t.dummy = d
	return nil
}

const bcrypt10 = 10

// Verify reports whether user is in the file and password is theirs. A
// name not in the file is checked against the dummy hash (Prepare), so
// that a wrong name and a wrong password take the same time.
func (t *Table) Verify(user string, password []byte) bool {
	h, known := t.users[user]
	if !known {
		h = t.dummy
	}
	ok := h.Verify(password)
	return ok && known
}

// Summary says what the file holds, as iked -check describes it: the
// users, their hashes' parameters, and the first line of each weakness.
func (t *Table) Summary() (kinds []string, weak []string) {
	byParams := map[string]int{}
	weakFirst := map[string]int{}
	for name, h := range t.users {
		byParams[h.Params()]++
		if w := h.Weak(); w != "" {
			if l, seen := weakFirst[w]; !seen || t.lines[name] < l {
				weakFirst[w] = t.lines[name]
			}
		}
	}
	for p, n := range byParams {
		kinds = append(kinds, fmt.Sprintf("%s: %d", p, n))
	}
	for w, l := range weakFirst {
		weak = append(weak, fmt.Sprintf("line %d: %s", l, w))
	}
	sort.Strings(kinds)
	sort.Strings(weak)
	return kinds, weak
}
