//go:build cgo && linux

package pam_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iked/iked/interop"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth"
)

// testUser makes a local user with a password (useradd, chpasswd) and
// a PAM service of the test's own in /etc/pam.d that checks it with
// pam_unix; both go when the test ends. It needs root.
func testUser(t *testing.T, password string) (user, service string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the PAM test needs root (CI is set: it must run here)")
		}
		t.Skip("the PAM test needs root: it adds a user and a file in /etc/pam.d")
	}
	interop.RequireTools(t, "useradd", "userdel", "chpasswd")
	user = fmt.Sprintf("iked-t%d", os.Getpid())
	service = fmt.Sprintf("iked-test-%d", os.Getpid())
	run := func(stdin string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
	}
	run("", "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "iked PAM test", user)
	t.Cleanup(func() { exec.Command("userdel", user).Run() })
	run(user+":"+password+"\n", "chpasswd")
	// nodelay: pam_unix's two-second delay after a failure is left out.
	text := "auth required pam_unix.so nodelay\naccount required pam_unix.so\n"
	file := filepath.Join("/etc/pam.d", service)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	return user, service
}

// TestPAM: through the PAM service, a local user's password is accepted;
// a wrong password, an unknown user and an expired account are rejected;
// a service whose module is missing is a failure, not a rejection.
func TestPAM(t *testing.T) {
	user, service := testUser(t, "the user's secret")
	b, err := xauth.Open(policymgr.XAuth{Backend: policymgr.XAuthPAM, PAM: policymgr.PAM{Service: service}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func(r xauth.Result) uint64 { return xauth.Checks.Count(policymgr.XAuthPAM, r) }
	acc, rej, failed := count(xauth.Accepted), count(xauth.Rejected), count(xauth.Failed)
	if err := b.Check(ctx, user, "the user's secret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, c := range []struct{ user, pw string }{{user, "the user's Secret"}, {user, ""}, {"iked-nobody-by-this-name", "x"}} {
		err := b.Check(ctx, c.user, c.pw)
		if !errors.Is(err, xauth.ErrRejected) {
			t.Errorf("%s %q: %v, want a rejection", c.user, c.pw, err)
		}
		if err != nil && c.pw != "" && strings.Contains(err.Error(), c.pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// The account expired yesterday: the account stack refuses it.
	if out, err := exec.Command("chage", "-E", "1", user).CombinedOutput(); err != nil {
		t.Fatalf("chage: %v: %s", err, out)
	}
	if err := b.Check(ctx, user, "the user's secret"); !errors.Is(err, xauth.ErrRejected) {
		t.Errorf("expired account: %v", err)
	}
	file := filepath.Join("/etc/pam.d", service)
	if err := os.WriteFile(file, []byte("auth required pam_iked_no_such_module.so\naccount required pam_unix.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx, user, "the user's secret"); err == nil || errors.Is(err, xauth.ErrRejected) {
		t.Errorf("a broken service: %v, want a failure that is not a rejection", err)
	} else {
		t.Log(err)
	}
	if count(xauth.Accepted)-acc != 1 || count(xauth.Rejected)-rej != 4 || count(xauth.Failed)-failed != 1 {
		t.Errorf("counted %d accepted, %d rejected, %d failed; want 1, 4, 1",
			count(xauth.Accepted)-acc, count(xauth.Rejected)-rej, count(xauth.Failed)-failed)
	}
}
