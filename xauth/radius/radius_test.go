package radius_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/interop"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth"
)

const secret = "a shared secret for the test"

// freeRADIUS is a FreeRADIUS server the test started in the foreground
// with a configuration of its own, on loopback.
type freeRADIUS struct {
	// auth answers iked (127.0.0.1); silent is a listener whose only
	// client is another address, so FreeRADIUS ignores iked's requests
	// there, as a server that does not know its NAS does.
	auth, silent netip.AddrPort
	mu           sync.Mutex
	log          strings.Builder
}

// freePort returns a UDP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// startFreeRADIUS runs `freeradius -X -d DIR` until the test ends. The
// users: alice (her password, only with NAS-Identifier iked-test), bob
// (always refused, with a Reply-Message), carol (her answer signed with
// a Message-Authenticator). require_message_authenticator
// makes FreeRADIUS drop a request without a right Message-Authenticator.
func startFreeRADIUS(t *testing.T) *freeRADIUS {
	t.Helper()
	interop.RequireTools(t, "freeradius")
	dir := t.TempDir()
	lo := netip.MustParseAddr("127.0.0.1")
	fr := &freeRADIUS{auth: netip.AddrPortFrom(lo, freePort(t)), silent: netip.AddrPortFrom(lo, freePort(t))}
	conf := fmt.Sprintf(`prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %[1]s
raddbdir = %[1]s
radacctdir = %[1]s
name = freeradius
confdir = ${raddbdir}
modconfdir = ${confdir}
run_dir = %[1]s
libdir = /usr/lib/freeradius
pidfile = ${run_dir}/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
}
client iked {
	ipaddr = 127.0.0.1
	secret = "%[2]s"
	require_message_authenticator = yes
}
clients others {
	client elsewhere {
		ipaddr = 192.0.2.99
		secret = "%[2]s"
	}
}
modules {
	pap {
	}
	files {
		filename = ${confdir}/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[3]d
	}
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[4]d
		clients = others
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`, dir, secret, fr.auth.Port(), fr.silent.Port())
	users := `alice NAS-Identifier == "iked-test", Cleartext-Password := "alice's secret"
bob Auth-Type := Reject
	Reply-Message = "account locked"
carol Cleartext-Password := "carol's secret"
	Message-Authenticator = 0x00000000000000000000000000000000
`
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("freeradius", "-X", "-d", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			fr.mu.Lock()
			fr.log.WriteString(sc.Text() + "\n")
			fr.mu.Unlock()
			if strings.Contains(sc.Text(), "Ready to process requests") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("FreeRADIUS said:\n%s", fr.logText())
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("freeradius exited:\n%s", fr.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("freeradius not ready after 30 s:\n%s", fr.logText())
	}
	return fr
}

func (fr *freeRADIUS) logText() string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.log.String()
}

func open(t *testing.T, timeout time.Duration, key string, servers ...netip.AddrPort) xauth.Backend {
	t.Helper()
	b, err := xauth.Open(policymgr.XAuth{Backend: policymgr.XAuthRADIUS, RADIUS: policymgr.RADIUS{
		Servers: servers, Secret: policymgr.Secret(key), NASIdentifier: "iked-test", Timeout: timeout}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFreeRADIUS: against a real FreeRADIUS, a right password is
// accepted, a wrong one, an unknown user and a locked account are
// rejected (ErrRejected, with the server's Reply-Message), and the
// checks are counted by result.
func TestFreeRADIUS(t *testing.T) {
	fr := startFreeRADIUS(t)
	b := open(t, 2*time.Second, secret, fr.auth)
	ctx := context.Background()
	count := func(r xauth.Result) uint64 { return xauth.Checks.Count(policymgr.XAuthRADIUS, r) }
	acc, rej := count(xauth.Accepted), count(xauth.Rejected)
	if err := b.Check(ctx, "alice", "alice's secret"); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := b.Check(ctx, "carol", "carol's secret"); err != nil {
		t.Fatalf("carol, answered with a Message-Authenticator: %v", err)
	}
	for _, c := range []struct{ user, pw, want string }{
		{"alice", "alice's Secret", "Access-Reject"},
		{"mallory", "alice's secret", "Access-Reject"},
		{"bob", "anything", `"account locked"`},
	} {
		err := b.Check(ctx, c.user, c.pw)
		if !errors.Is(err, xauth.ErrRejected) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a rejection with %s", c.user, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), c.pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if count(xauth.Accepted)-acc != 2 || count(xauth.Rejected)-rej != 3 {
		t.Errorf("counted %d accepted, %d rejected; want 2, 3", count(xauth.Accepted)-acc, count(xauth.Rejected)-rej)
	}
	log := fr.logText()
	for _, want := range []string{`NAS-Identifier = "iked-test"`, "NAS-Port-Type = Virtual", "Message-Authenticator = 0x", "Sent Access-Accept Id", "  Message-Authenticator = 0x"} {
		if !strings.Contains(log, want) {
			t.Errorf("FreeRADIUS received no %s", want)
		}
	}
	if testing.Verbose() {
		t.Log(log)
	}
}

// TestFreeRADIUSFailover: a server that refuses the datagram (nothing
// listens) or never answers is passed over for the next; the server that
// answered is asked first from then on; when none answers, the error
// names each and is not a rejection; a wrong secret is not a rejection
// either (the answers do not authenticate, so they are dropped).
func TestFreeRADIUSFailover(t *testing.T) {
	fr := startFreeRADIUS(t)
	ctx := context.Background()
	down := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	const timeout = 500 * time.Millisecond

	b := open(t, timeout, secret, down, fr.auth)
	start := time.Now()
	if err := b.Check(ctx, "alice", "alice's secret"); err != nil {
		t.Fatalf("first server down: %v", err)
	}
	if d := time.Since(start); d >= timeout {
		t.Errorf("a refused datagram took %v, want less than the timeout", d)
	}

	b = open(t, timeout, secret, fr.silent, fr.auth)
	start = time.Now()
	if err := b.Check(ctx, "alice", "alice's secret"); err != nil {
		t.Fatalf("first server silent: %v", err)
	}
	if d := time.Since(start); d < timeout || d > 4*timeout {
		t.Errorf("past a silent server in %v, want the timeout %v", d, timeout)
	}
	start = time.Now()
	if err := b.Check(ctx, "alice", "alice's Secret"); !errors.Is(err, xauth.ErrRejected) {
		t.Fatalf("second check: %v", err)
	}
	if d := time.Since(start); d >= timeout {
		t.Errorf("the second check took %v: it asked the silent server again", d)
	}

	failed := xauth.Checks.Count(policymgr.XAuthRADIUS, xauth.Failed)
	b = open(t, timeout, secret, fr.silent, down)
	start = time.Now()
	err := b.Check(ctx, "alice", "alice's secret")
	d := time.Since(start)
	if err == nil || errors.Is(err, xauth.ErrRejected) || !strings.Contains(err.Error(), fr.silent.String()+": no answer within 500ms") ||
		!strings.Contains(err.Error(), down.String()+":") {
		t.Fatalf("no server: %v", err)
	}
	if d < timeout || d > 4*timeout {
		t.Errorf("no server: %v, want about %v", d, timeout)
	}
	t.Log(err)

	b = open(t, timeout, "not the secret", fr.auth)
	if err := b.Check(ctx, "alice", "alice's secret"); err == nil || errors.Is(err, xauth.ErrRejected) {
		t.Fatalf("wrong secret: %v", err)
	}
	if got := xauth.Checks.Count(policymgr.XAuthRADIUS, xauth.Failed) - failed; got != 2 {
		t.Errorf("counted %d failed, want 2", got)
	}
}
