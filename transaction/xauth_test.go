package transaction_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
	"github.com/iked/iked/transaction"
)

// usersFile writes an XAUTH users file with alice's password hashed by
// htpasswd -B (bcrypt), owner-only as daemon.xauth requires.
func usersFile(t *testing.T) string {
	t.Helper()
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("htpasswd missing (apt-get install apache2-utils)")
		}
		t.Skip("htpasswd missing (apt-get install apache2-utils)")
	}
	f := filepath.Join(t.TempDir(), "xauth-users")
	if out, err := exec.Command(htpasswd, "-B", "-C", "10", "-c", "-b", f, "alice", "correct horse").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// gateway is B's policy and options: a gateway with `ike.xauth: server`
// checking logins against a users file (daemon.xauth).
func gateway(t *testing.T, nw *stacktest.Net) (stacktest.Policy, stacktest.Options) {
	return stacktest.Policy{IKE: "xauth: server", Daemon: fmt.Sprintf("xauth: {backend: file, users-file: %q}", usersFile(t))},
		stacktest.Options{Net: nw}
}

// client is A's policy: `ike.xauth: client` as alice with password pass
// (a file only its owner reads), starting at once.
func client(t *testing.T, pass string) stacktest.Policy {
	f := filepath.Join(t.TempDir(), "alice.pass")
	if err := os.WriteFile(f, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return stacktest.Policy{Initiate: "start", IKE: fmt.Sprintf("xauth: client, xauth-user: alice, xauth-password-file: %q", f)}
}

// transactions returns how many Transaction messages each side sent,
// retransmissions not counted (a request may reach the client before its
// phase 1 is done and be sent again).
func transactions(t *testing.T, nw *stacktest.Net) (fromA, fromB int) {
	seen := map[string]bool{}
	for _, s := range nw.Sent() {
		m, err := isakmp.ParseHeader(s.Data)
		if err != nil || m.Exchange != isakmp.ExchangeTransaction || seen[string(s.Data)] {
			continue
		}
		seen[string(s.Data)] = true
		if s.From.Addr().String() == stacktest.HostA {
			fromA++
		} else {
			fromB++
		}
	}
	return
}

// TestXAuthLogin: iked as gateway and iked as client, in Main and
// Aggressive Mode. Phase 1 uses
// XAUTHInitPreShared, the gateway asks, the client answers alice's
// password, the gateway's status says yes and is acknowledged, and only
// then Quick Mode installs the IPsec SAs on both sides.
func TestXAuthLogin(t *testing.T) {
	for _, mode := range []string{"main", "aggressive"} {
		t.Run(mode, func(t *testing.T) { testXAuthLogin(t, mode) })
	}
}

func testXAuthLogin(t *testing.T, mode string) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		pb, ob := gateway(t, nw)
		pa := client(t, "correct horse")
		pa.Mode, pb.Mode = mode, mode
		a, b := stacktest.Pair(t, pa, stacktest.Options{Net: nw}, pb, ob)
		a.WaitSAs(t, 2, 20*time.Second)
		b.WaitSAs(t, 2, 20*time.Second)
		rs := b.Records(t, "XAUTH user authenticated", 0)
		if len(rs) != 1 || rs[0]["user"] != "alice" {
			t.Fatalf("gateway's login records %v\n%s", rs, b.Log.String())
		}
		if len(a.Records(t, "XAUTH accepted by the gateway", 0)) != 1 {
			t.Errorf("client did not log the gateway's yes\n%s", a.Log.String())
		}
		if strings.Contains(a.Log.String()+b.Log.String(), "correct horse") {
			t.Errorf("the password reached a log")
		}
		// REQUEST and SET from the gateway, REPLY and ACK from the client.
		if fa, fb := transactions(t, nw); fa != 2 || fb != 2 {
			t.Errorf("Transaction messages: %d from the client, %d from the gateway; want 2 and 2", fa, fb)
		}
		if !strings.Contains(b.Log.String(), "XAUTHInitPreShared") {
			t.Errorf("the gateway's phase 1 line does not name XAUTHInitPreShared\n%s", b.Log.String())
		}
		if ack, qm := ackToQuickMode(t, nw); qm.Sub(ack) < transaction.AckSettle {
			t.Errorf("the client's QM1 left %v after its ACK of the gateway's status; want at least %v (transaction.AckSettle)", qm.Sub(ack), transaction.AckSettle)
		}
	})
}

// ackToQuickMode returns when the client (A) sent its last Transaction
// message before its first Quick Mode message, and when it sent that.
func ackToQuickMode(t *testing.T, nw *stacktest.Net) (ack, qm time.Time) {
	t.Helper()
	for _, s := range nw.Sent() {
		m, err := isakmp.ParseHeader(s.Data)
		if err != nil || s.From.Addr().String() != stacktest.HostA {
			continue
		}
		switch m.Exchange {
		case isakmp.ExchangeTransaction:
			ack = s.At
		case isakmp.ExchangeQuickMode:
			if ack.IsZero() {
				t.Fatal("the client sent Quick Mode before any Transaction message")
			}
			return ack, s.At
		}
	}
	t.Fatal("the client sent no Quick Mode message")
	return
}

// TestXAuthWrongPassword: three wrong passwords (three REQUESTs, as Cisco
// gateways allow), then a failure status; the gateway deletes the ISAKMP
// SA with a Delete to the client and logs message 46 with the reason;
// no IPsec SA anywhere.
func TestXAuthWrongPassword(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		pb, ob := gateway(t, nw)
		a, b := stacktest.Pair(t, client(t, "battery staple"), stacktest.Options{Net: nw}, pb, ob)
		rs := b.WaitRecord(t, "", 46, 20*time.Second)
		if !strings.Contains(fmt.Sprint(rs[0]), `XAUTH of user \"alice\" failed after 3 tries`) &&
			!strings.Contains(fmt.Sprint(rs[0]), `XAUTH of user "alice" failed after 3 tries`) {
			t.Errorf("gateway's message 46: %v", rs[0])
		}
		a.WaitRecord(t, "", 46, 20*time.Second)
		stacktest.Wait(t, 10*time.Second, "ISAKMP SAs gone", func() bool {
			return len(a.Ctl(t, "list-sas", "").SAs) == 0 && len(b.Ctl(t, "list-sas", "").SAs) == 0
		}, a, b)
		if n := len(b.Records(t, "XAUTH login refused", 0)); n != 3 {
			t.Errorf("%d refused logins logged, want 3", n)
		}
		if fa, fb := transactions(t, nw); fb != 4 || fa != 4 {
			t.Errorf("Transaction messages: %d from the client, %d from the gateway; want 4 and 4 (3 logins, status)", fa, fb)
		}
		if n := len(a.Engine.SAs()) + len(b.Engine.SAs()); n != 0 {
			t.Errorf("%d IPsec SAs installed", n)
		}
		if len(b.Records(t, "sending Delete", 0)) != 1 {
			t.Errorf("the gateway sent no Delete of the ISAKMP SA\n%s", b.Log.String())
		}
		if !strings.Contains(b.Log.String(), "XAUTH login refused") {
			t.Errorf("no refused login logged")
		}
	})
}

// TestQuickModeRefusedBeforeXAuth: a client that starts Quick Mode right
// after phase 1 (its own gate removed) and then fails its login gets no
// IPsec SA: the gateway refuses Quick Mode on the ISAKMP SA until XAUTH
// is done, which it never is here.
func TestQuickModeRefusedBeforeXAuth(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		pb, ob := gateway(t, nw)
		a, b := stacktest.Pair(t, client(t, "battery staple"),
			stacktest.Options{Net: nw, Edit: func(s *stack.Stack) { s.IPsec.Gate = nil }}, pb, ob)
		b.WaitRecord(t, "", 46, 30*time.Second)
		time.Sleep(10 * time.Second)
		if strings.Contains(a.Log.String()+b.Log.String(), `"ipsec-up"`) {
			t.Errorf("an IPsec SA was installed for a Quick Mode begun before XAUTH")
		}
		if !strings.Contains(b.Log.String(), "Quick Mode before XAUTH or Mode Config is done") {
			t.Errorf("gateway did not refuse the early Quick Mode\n%s", b.Log.String())
		}
	})
}

// stuck is an XAUTH backend whose checks hang, as against a RADIUS server
// that never answers, until their context ends.
type stuck struct{ calls atomic.Int32 }

func (b *stuck) Check(ctx context.Context, _, _ string) error {
	b.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// TestXAuthChecksDoNotHoldWorkers: the gateway's password checks run in
// the daemon's I/O pool (one goroutine and a queue of one here), not on
// its single crypto worker. With the check of one road warrior hanging
// and another's waiting, a third road warrior's phase 1 (Diffie-Hellman
// on the worker) still completes; its check is refused (the queue is
// full), counted, logged, and its login fails with message 46 naming
// the reason.
func TestXAuthChecksDoNotHoldWorkers(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := &stuck{}
		pb, _ := gateway(t, nw) // daemon.xauth, replaced by b below
		gw := stacktest.Policy{Local: stacktest.HostB, Tunnel: true, RoadWarrior: true, IKE: "xauth: server", Daemon: pb.Daemon}
		g := stacktest.Start(t, gw, stacktest.Options{Net: nw, IOWorkers: 1, IOQueue: 1,
			Edit: func(s *stack.Stack) { s.Transaction.Backend = b }})
		peer := func(host string) *stacktest.Node {
			p := client(t, "correct horse")
			p.Local, p.Remote, p.Tunnel = host, stacktest.HostB, true
			return stacktest.Start(t, p, stacktest.Options{Net: nw})
		}
		peer("192.0.2.11")
		stacktest.Wait(t, 10*time.Second, "first check hanging", func() bool { return b.calls.Load() == 1 }, g)
		peer("192.0.2.12")
		time.Sleep(3 * time.Second) // its login reaches the queue
		if n := counter(t, g, "io-refused"); n != 0 {
			t.Fatalf("io-refused %d with one check running and one queued", n)
		}
		third := peer("192.0.2.13")
		third.WaitRecord(t, "ISAKMP SA established", 0, 10*time.Second)
		rs := g.WaitRecord(t, "", 46, 10*time.Second)
		if len(rs) != 1 || !strings.Contains(fmt.Sprint(rs[0]), "the I/O job queue is full") {
			t.Errorf("gateway's message 46: %v", rs)
		}
		if n := counter(t, g, "io-refused"); n != 1 {
			t.Errorf("io-refused %d, want 1", n)
		}
		if len(g.Records(t, "I/O job refused: every I/O goroutine is busy and the queue is full", 0)) != 1 {
			t.Errorf("the refusal was not logged\n%s", g.Log.String())
		}
		if b.calls.Load() != 1 {
			t.Errorf("%d checks reached the backend, want the first only", b.calls.Load())
		}
	})
}

// counter returns the named counter of `ikectl stats`.
func counter(t *testing.T, n *stacktest.Node, name string) uint64 {
	t.Helper()
	st := n.Ctl(t, control.CmdStats, "").Stats
	if st == nil {
		t.Fatal("no stats")
	}
	v, ok := control.Get(st.Other, name)
	if !ok {
		t.Fatalf("no counter %q", name)
	}
	return v
}
