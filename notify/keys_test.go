package notify

import (
	"bytes"
	"log/syslog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestKeysLevelWarns: the keys level logs KeysWarning once at start (the
// logger made at keys, then the daemon's first SetLevel) and again at each
// reload that sets it.
func TestKeysLevelWarns(t *testing.T) {
	var buf bytes.Buffer
	count := func() int { return strings.Count(buf.String(), "warning\t"+KeysWarning) }
	l, err := NewLogger(LogConfig{Level: "keys"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.SetLevel("keys") // the daemon applies the policy at start
	if n := count(); n != 1 {
		t.Fatalf("start: %d warnings, want 1:\n%s", n, buf.String())
	}
	_ = l.SetLevel("keys") // a reload
	if n := count(); n != 2 {
		t.Fatalf("reload: %d warnings, want 2:\n%s", n, buf.String())
	}
	_ = l.SetLevel("info")
	_ = l.SetLevel("debug")
	if n := count(); n != 2 {
		t.Fatalf("other levels: %d warnings, want 2", n)
	}

	buf.Reset()
	l, _ = NewLogger(LogConfig{Level: "info"}, &buf)
	_ = l.SetLevel("info")
	_ = l.SetLevel("keys") // a reload turns keys on
	if n := count(); n != 1 {
		t.Fatalf("keys on at reload: %d warnings, want 1:\n%s", n, buf.String())
	}
}

// TestKeysNeverSyslog: at the keys level a secret goes to the console and
// never to syslog, while the other entries reach both. The syslog side is
// a real log/syslog writer dialled to a datagram socket of the test's own.
func TestKeysNeverSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sw, err := syslog.Dial("unixgram", path, syslog.LOG_DAEMON|syslog.LOG_INFO, "iked")
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	var console bytes.Buffer
	l, err := newLogger(LogConfig{Level: "keys", Syslog: true}, &console, sw)
	if err != nil {
		t.Fatal(err)
	}
	l.Keys("ISAKMP SA keys", zap.String("SKEYID", "00112233deadbeef"))
	l.Warn("after the keys")

	if !strings.Contains(console.String(), "00112233deadbeef") {
		t.Errorf("the console lacks the keys entry:\n%s", console.String())
	}
	var got []string
	b := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(b)
		if err != nil {
			break
		}
		got = append(got, string(b[:n]))
	}
	all := strings.Join(got, "\n")
	if strings.Contains(all, "deadbeef") || strings.Contains(all, "ISAKMP SA keys") {
		t.Errorf("syslog got the keys entry: %q", all)
	}
	// The start warning, then the warning logged after the keys entry.
	if len(got) != 2 || !strings.Contains(got[0], KeysWarning) || !strings.Contains(got[1], "after the keys") {
		t.Errorf("syslog got %q, want the keys warning and the warning after", got)
	}
}
