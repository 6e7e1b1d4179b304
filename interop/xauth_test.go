package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// XAUTH against strongSwan 5.9 (xauth-generic), draft-beaulieu-ike-xauth-02:
// phase 1 with XAUTHInitPreShared, then the Transaction exchanges (HASH and
// IVs as draft-ietf-ipsec-isakmp-mode-cfg-05, 3.4 and RFC 2409, Appendix B),
// then Quick Mode, whose keys both sides log and compare.

// xauthPasswordFile writes a password file only its owner may read, as
// ike.xauth-password-file requires, and returns its path.
func xauthPasswordFile(t *testing.T, password string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", Prefix+"xauth-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := filepath.Join(dir, "alice.pass")
	if err := os.WriteFile(f, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// xauthUsersFile writes a users file with alice's password ("correct
// horse") hashed by htpasswd -B, only its owner may read, and returns
// its path; its folder is the test's own.
func xauthUsersFile(t *testing.T) string {
	t.Helper()
	users := filepath.Join(filepath.Dir(xauthPasswordFile(t, "unused")), "xauth-users")
	if out, err := exec.Command("htpasswd", "-B", "-C", "10", "-c", "-b", users, "alice", "correct horse").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	if err := os.Chmod(users, 0o600); err != nil {
		t.Fatal(err)
	}
	return users
}

// withIKE adds keys to the ike mapping of qmIkedPolicy's connection.
func withIKE(extra string) func(string) string {
	return func(p string) string {
		i := strings.Index(p, "    ike: {")
		j := strings.Index(p[i:], "}\n")
		return p[:i+j] + ", " + extra + p[i+j:]
	}
}

// TestIkedXAuthClient: charon is the XAUTH gateway (a second remote round
// auth = xauth, alice's password in its xauth secrets) and iked the
// client (`ike.xauth: client`) that initiates, in Main Mode and in
// Aggressive Mode (the road warrior's usual PSK setup). iked answers charon's
// request with alice and her password, acknowledges the status, and only
// then starts Quick Mode; the child SA keys agree. With a wrong password
// charon's status says no: iked logs message 46 and no child SA comes.
func TestIkedXAuthClient(t *testing.T) {
	RequireStrongSwan(t)
	for _, tc := range []struct {
		name, password string
		ok, aggressive bool
	}{
		{"right-password", "correct horse", true, false},
		{"right-password-aggressive", "correct horse", true, true},
		{"wrong-password", "battery staple", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newQMSetup(t, qmCases[0], true)
			s.charonOpt.Connections[0].RemoteXAuth = true
			s.charonOpt.Connections[0].Aggressive = tc.aggressive
			s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
			ike := withIKE(fmt.Sprintf("xauth: client, xauth-user: alice, xauth-password-file: %q", xauthPasswordFile(t, tc.password)))
			s.edit = func(p string) string {
				if tc.aggressive {
					p = strings.Replace(p, "{mode: main,", "{mode: aggressive,", 1)
				}
				return ike(p)
			}
			s.ikedInitiates(t)
			if !tc.ok {
				if _, err := s.iked.WaitCatalog(46, 20*time.Second, `the gateway refused XAUTH user "alice"`); err != nil {
					t.Fatalf("%v\ncharon:\n%s", err, s.charon.Log())
				}
				waitLog(t, s.charon, "XAuth authentication of 'alice' failed", 5*time.Second)
				if ks := s.iked.SAKeys(); len(ks) != 0 {
					t.Errorf("iked derived %d IPsec SA keys after a refused login", len(ks))
				}
				return
			}
			checkChildKeys(t, qmCases[0], s.charon, s.iked)
			waitLog(t, s.charon, "XAuth authentication of 'alice' successful", 5*time.Second)
			if _, err := s.iked.WaitCatalog(0, 5*time.Second, "XAUTH accepted by the gateway"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCharonXAuthClient: charon is the XAUTH client (local rounds psk,
// then xauth with xauth_id alice) and initiates; iked is the gateway
// (`ike.xauth: server`) checking logins against a users file written by
// htpasswd -B (daemon.xauth). With alice's password charon's child SA
// comes up and the keys agree; with a wrong one iked asks three times,
// sends the failure status, logs message 46 with the reason and deletes
// the ISAKMP SA, and charon reports its login failed.
func TestCharonXAuthClient(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, "htpasswd")
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{{"right-password", "correct horse", true}, {"wrong-password", "battery staple", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users := xauthUsersFile(t)
			s := newQMSetup(t, qmCases[0], false)
			s.charonOpt.Connections[0].LocalXAuthID = "alice"
			s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: tc.password}}
			ike := withIKE("xauth: server")
			s.edit = func(p string) string {
				return strings.Replace(ike(p), "daemon:\n", fmt.Sprintf("daemon:\n  xauth: {backend: file, users-file: %q}\n", users), 1)
			}
			s.startIked(t)
			s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
			err := s.charon.Initiate("c", 30*time.Second)
			if tc.ok {
				if err != nil {
					t.Fatalf("swanctl --initiate: %v\niked:\n%s", err, s.iked.catalogSummary())
				}
				checkChildKeys(t, qmCases[0], s.charon, s.iked)
				waitLog(t, s.charon, "XAuth authentication of 'alice' (myself) successful", 5*time.Second)
				if _, err := s.iked.WaitCatalog(0, 5*time.Second, "XAUTH user authenticated"); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("charon's child SA came up with a wrong password")
			}
			if _, err := s.iked.WaitCatalog(46, 10*time.Second, `XAUTH of user "alice" failed after 3 tries`); err != nil {
				t.Fatalf("%v\ncharon:\n%s", err, s.charon.Log())
			}
			waitLog(t, s.charon, "XAuth authentication of 'alice' (myself) failed", 5*time.Second)
			if ks := s.iked.SAKeys(); len(ks) != 0 {
				t.Errorf("iked derived %d IPsec SA keys after a refused login", len(ks))
			}
		})
	}
}
