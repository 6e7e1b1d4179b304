// Package xauthtest makes the users files that XAUTH tests check
// passwords against, with the real tools: htpasswd -B (Debian's
// apache2-utils) for bcrypt and argon2 (Debian's argon2) for argon2id.
// Without the tools a test skips, or fails under CI (interop.RequireTools).
package xauthtest

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iked/iked/interop"
)

// Htpasswd adds user with password to the users file at path (creating
// it) as `htpasswd -B -C cost` does, and leaves the file readable by its
// owner only. htpasswd writes $2y$ hashes.
func Htpasswd(t testing.TB, path, user, password string, cost int) {
	t.Helper()
	interop.RequireTools(t, "htpasswd")
	args := []string{"-B", "-C", strconv.Itoa(cost), "-i"}
	if _, err := os.Stat(path); err != nil {
		args = append(args, "-c")
	}
	cmd := exec.Command("htpasswd", append(args, path, user)...)
	cmd.Stdin = strings.NewReader(password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v: %s", err, out)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Argon2id returns password's argon2id hash in the PHC format as the
// argon2 tool prints it: memory 2^logMem KiB, passes, one lane, a random
// salt.
func Argon2id(t testing.TB, password string, logMem, passes int) string {
	t.Helper()
	interop.RequireTools(t, "argon2")
	salt := make([]byte, 12)
	rand.Read(salt)
	cmd := exec.Command("argon2", base64.RawURLEncoding.EncodeToString(salt), "-id", "-m", strconv.Itoa(logMem),
		"-t", strconv.Itoa(passes), "-p", "1", "-e")
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("argon2: %v", err)
	}
	h := strings.TrimSpace(string(out))
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("argon2 printed %q", out)
	}
	return h
}

// UsersFile writes text to a users file of mode 0600 in a folder of its
// own and returns its path.
func UsersFile(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xauth-users")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Append adds a line to the users file at path.
func Append(t testing.TB, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}
