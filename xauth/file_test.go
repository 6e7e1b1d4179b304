package xauth_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth"
	"github.com/iked/iked/xauth/xauthtest"
)

// TestFileBackend: through Open, as the daemon builds it, the users file
// accepts a right password, rejects a wrong one and an unknown name
// (ErrRejected), and the checks are counted by result.
func TestFileBackend(t *testing.T) {
	path := xauthtest.UsersFile(t, "")
	os.Remove(path)
	xauthtest.Htpasswd(t, path, "alice", "alice's secret", 5)
	xauthtest.Append(t, path, "carol:"+xauthtest.Argon2id(t, "carol's secret", 10, 2))
	b, err := xauth.Open(policymgr.XAuth{Backend: policymgr.XAuthFile, UsersFile: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func(r xauth.Result) uint64 { return xauth.Checks.Count(policymgr.XAuthFile, r) }
	acc, rej := count(xauth.Accepted), count(xauth.Rejected)
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{{"alice", "alice's secret", true}, {"carol", "carol's secret", true}, {"alice", "carol's secret", false}, {"mallory", "x", false}} {
		err := b.Check(ctx, c.user, c.pw)
		if c.ok && err != nil || !c.ok && !errors.Is(err, xauth.ErrRejected) {
			t.Errorf("Check(%q): %v", c.user, err)
		}
		if err != nil && strings.Contains(err.Error(), c.pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if count(xauth.Accepted)-acc != 2 || count(xauth.Rejected)-rej != 2 {
		t.Errorf("counted %d accepted, %d rejected; want 2, 2", count(xauth.Accepted)-acc, count(xauth.Rejected)-rej)
	}
	if b, err := xauth.Open(policymgr.XAuth{}); b != nil || err != nil {
		t.Errorf("no daemon.xauth: %v %v", b, err)
	}
}

// TestFileRereadOnChange: the users file is read again when it changes:
// a user added can log in, a user removed cannot, and a file that turns
// malformed or readable by others fails closed (an error that is not
// ErrRejected, naming the line) until it is right again.
func TestFileRereadOnChange(t *testing.T) {
	path := xauthtest.UsersFile(t, "")
	os.Remove(path)
	xauthtest.Htpasswd(t, path, "alice", "alice's secret", 5)
	f, err := xauth.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.Check(ctx, "bob", "bob's secret"); !errors.Is(err, xauth.ErrRejected) {
		t.Fatalf("bob before he is added: %v", err)
	}
	xauthtest.Htpasswd(t, path, "bob", "bob's secret", 5)
	if err := f.Check(ctx, "bob", "bob's secret"); err != nil {
		t.Fatalf("bob once added: %v", err)
	}
	good, _ := os.ReadFile(path)
	// alice removed, by an editor writing a new file in place.
	var kept []string
	for _, l := range strings.Split(string(good), "\n") {
		if !strings.HasPrefix(l, "alice:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(ctx, "alice", "alice's secret"); !errors.Is(err, xauth.ErrRejected) {
		t.Fatalf("alice once removed: %v", err)
	}
	// A malformed line: closed, the line named.
	xauthtest.Append(t, path, "alice $2y$05$oops")
	err = f.Check(ctx, "bob", "bob's secret")
	if err == nil || errors.Is(err, xauth.ErrRejected) || !strings.Contains(err.Error(), "line 2:") {
		t.Fatalf("malformed: %v", err)
	}
	t.Log(err)
	// Right again, then readable by others: closed again.
	os.WriteFile(path, good, 0o600)
	if err := f.Check(ctx, "alice", "alice's secret"); err != nil {
		t.Fatalf("restored: %v", err)
	}
	os.Chmod(path, 0o644)
	if err := f.Check(ctx, "alice", "alice's secret"); err == nil || errors.Is(err, xauth.ErrRejected) || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("mode 0644: %v", err)
	}
	os.Chmod(path, 0o600)
	os.Remove(path)
	if err := f.Check(ctx, "alice", "alice's secret"); err == nil || errors.Is(err, xauth.ErrRejected) {
		t.Fatalf("removed: %v", err)
	}
	os.WriteFile(path, good, 0o600)
	if err := f.Check(ctx, "alice", "alice's secret"); err != nil {
		t.Fatalf("back: %v", err)
	}
}

// TestExampleUsersFile: the example users file holds the passwords its
// comments say.
func TestExampleUsersFile(t *testing.T) {
	b, err := os.ReadFile("../examples/secrets/xauth-users")
	if err != nil {
		t.Fatal(err)
	}
	f, err := xauth.NewFile(xauthtest.UsersFile(t, string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "bob"} {
		if err := f.Check(context.Background(), user, user+" example password"); err != nil {
			t.Errorf("%s: %v", user, err)
		}
	}
}
