package userfile_test

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/xauth/userfile"
	"github.com/iked/iked/xauth/xauthtest"
)

// TestRealHashes: hashes made by htpasswd -B ($2y$) and by the argon2
// tool verify their own password and no other; $2a$ and $2b$, which
// differ from $2y$ only in the prefix, are accepted too.
func TestRealHashes(t *testing.T) {
	path := xauthtest.UsersFile(t, "")
	os.Remove(path)
	xauthtest.Htpasswd(t, path, "alice", "alice's secret", 5)
	xauthtest.Htpasswd(t, path, "bob", "correct horse battery staple", 5)
	xauthtest.Append(t, path, "carol:"+xauthtest.Argon2id(t, "carol's secret", 10, 2))
	b, _ := os.ReadFile(path)
	var bob string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "bob:") {
			bob = strings.TrimPrefix(l, "bob:")
		}
	}
	if !strings.HasPrefix(bob, "$2y$05$") {
		t.Fatalf("htpasswd -B wrote %q, want $2y$05$", bob)
	}
	xauthtest.Append(t, path, "dave:$2a$"+bob[4:])
	xauthtest.Append(t, path, "erin:$2b$"+bob[4:])

	tab, _, err := userfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Prepare(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "alice's secret", true},
		{"alice", "alice's secreT", false},
		{"alice", "", false},
		{"bob", "correct horse battery staple", true},
		{"bob", "alice's secret", false},
		{"carol", "carol's secret", true},
		{"carol", "carol's secret ", false},
		{"dave", "correct horse battery staple", true},
		{"erin", "correct horse battery staple", true},
		{"mallory", "alice's secret", false},
		{"", "", false},
	} {
		if got := tab.Verify(c.user, []byte(c.pw)); got != c.ok {
			t.Errorf("Verify(%q, %q) = %v, want %v", c.user, c.pw, got, c.ok)
		}
	}
	kinds, weak := tab.Summary()
	if tab.Len() != 5 || len(kinds) != 2 || len(weak) != 2 {
		t.Errorf("%d users, kinds %q, weak %q", tab.Len(), kinds, weak)
	}
}

// TestMalformedLines: every malformed line is refused, naming its line.
func TestMalformedLines(t *testing.T) {
	good := "$2y$05$Nh5fQwU5dZJ3vN1yk3H4s.9vF0R7y0vF6Yx8o0r0QG8kq3cVQx3yS"
	argon := "$argon2id$v=19$m=1024,t=2,p=1$NEZScVJuWk9rS05nRkJzTA$VCvurvM/Oiu1wY3M1JLaAixsycrzoTW/7CO6MPivOSQ"
	if _, err := userfile.ParseHash(good); err != nil {
		t.Fatalf("the good hash: %v", err)
	}
	for _, c := range []struct{ line, want string }{
		{"alice", `not "name:HASH"`},
		{":" + good, "user name is empty"},
		{"alice:", "hash is empty"},
		{"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "neither bcrypt"},
		{"alice:$apr1$abc$def", "neither bcrypt"},
		{"alice:$2x$05$Nh5fQwU5dZJ3vN1yk3H4s.9vF0R7y0vF6Yx8o0r0QG8kq3cVQx3yS", "neither bcrypt"},
		{"alice:$2y$05$short", "not 60"},
		{"alice:$2y$99$Nh5fQwU5dZJ3vN1yk3H4s.9vF0R7y0vF6Yx8o0r0QG8kq3cVQx3yS", "does not decode"},
		{"alice:realm:" + good, "more than one ':'"},
		{"al ice:" + good, "without blanks"},
		{strings.Repeat("a", 256) + ":" + good, "longer than 255"},
		{"alice:$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "only argon2id"},
		{"alice:" + strings.Replace(argon, "v=19", "v=16", 1), "only v=19"},
		{"alice:" + strings.Replace(argon, "m=1024", "m=4194304", 1), "m=4194304 is not a number"},
		{"alice:" + strings.Replace(argon, "m=1024,t=2", "t=2,m=1024", 1), "not m=M,t=T,p=P"},
		{"alice:" + strings.Replace(argon, "p=1", "p=0", 1), "p=0"},
		{"alice:" + strings.Replace(argon, "$NEZScVJuWk9rS05nRkJzTA$", "$c2FsdA$", 1), "salt"},
		{"alice:" + strings.Replace(argon, "$NEZScVJuWk9rS05nRkJzTA$", "$!!!$", 1), "salt"},
		{"alice:" + argon[:len(argon)-30], "hash is not base64"},
		{"alice:" + argon + "$x", "is not $argon2id$"},
	} {
		text := "# users\n\nbob:" + good + "\n" + c.line + "\n"
		_, err := userfile.Parse([]byte(text))
		var le *userfile.LineError
		if !errors.As(err, &le) || le.Line != 4 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want line 4: ...%s", c.line, err, c.want)
			continue
		}
		if _, hash, _ := strings.Cut(c.line, ":"); len(hash) > 12 && strings.Contains(err.Error(), hash[len(hash)-8:]) {
			t.Errorf("%.40q: the error quotes the hash: %v", c.line, err)
		}
	}
	_, err := userfile.Parse([]byte("bob:" + good + "\r\nbob:" + argon + "\r\n"))
	if err == nil || !strings.Contains(err.Error(), `line 2: user "bob" is on line 1 already`) {
		t.Errorf("duplicate: %v", err)
	}
	tab, err := userfile.Parse([]byte("bob:" + good + "\r\ncarol:" + argon))
	if err != nil || tab.Len() != 2 {
		t.Errorf("CRLF and no final line end: %v", err)
	}
}

// TestReadRefuses: a users file that group or others may read, one that
// is not a regular file, and a missing one are refused by name.
func TestReadRefuses(t *testing.T) {
	path := xauthtest.UsersFile(t, "")
	if _, _, err := userfile.Read(path); err != nil {
		t.Fatalf("an empty file of mode 0600: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(path, mode)
		_, _, err := userfile.Read(path)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s has mode %04o", path, mode)) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	if _, _, err := userfile.Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a folder: %v", err)
	}
	if _, _, err := userfile.Read(path + ".missing"); err == nil || !strings.Contains(err.Error(), path+".missing: no such file") {
		t.Errorf("missing: %v", err)
	}
}

// TestUnknownUserTakesAsLong: a name the file does not hold is checked
// against a dummy hash of the file's usual cost, so a wrong name takes
// the time of a wrong password; without it, a guesser could tell which
// names exist from the time each answer takes.
func TestUnknownUserTakesAsLong(t *testing.T) {
	path := xauthtest.UsersFile(t, "")
	os.Remove(path)
	xauthtest.Htpasswd(t, path, "alice", "alice's secret", 9)
	tab, _, err := userfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Prepare(); err != nil {
		t.Fatal(err)
	}
	median := func(user string) time.Duration {
		var ds []time.Duration
		for range 5 {
			start := time.Now()
			tab.Verify(user, []byte("wrong"))
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[2]
	}
	known, unknown := median("alice"), median("nobody-by-that-name")
	t.Logf("wrong password %v, wrong name %v", known, unknown)
	if unknown < known/3 || unknown > known*3 {
		t.Errorf("a wrong name takes %v, a wrong password %v", unknown, known)
	}
}
