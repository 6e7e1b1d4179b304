package notify

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestLoggerConsoleLevels(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(LogConfig{Level: "notice"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Emit(EngineInitializing())                                                                // info: below notice
	l.Emit(SendingNotification(netip.MustParseAddrPort("192.0.2.2:500"), "NO-PROPOSAL-CHOSEN")) // notice
	l.Emit(Phase1LifetimeShort(60, 300))                                                        // warning
	l.Keys("SKEYID", zap.Binary("v", []byte{1}))
	out := buf.String()
	if strings.Contains(out, "Initializing engine") || strings.Contains(out, "SKEYID") {
		t.Errorf("below-level entries written:\n%s", out)
	}
	for _, want := range []string{"notice\tSending notification to 192.0.2.2 : NO-PROPOSAL-CHOSEN", "warning\tPhase-1 lifetime is too short (prop=60, min=300)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestLoggerKeysLevel(t *testing.T) {
	var buf bytes.Buffer
	l, _ := NewLogger(LogConfig{Level: "debug"}, &buf)
	if l.KeysEnabled() {
		t.Fatal("keys enabled at debug")
	}
	l.Keys("SKEYID_d", zap.String("hex", "00"))
	if buf.Len() != 0 {
		t.Fatalf("secret written at debug: %s", buf.String())
	}
	if err := l.SetLevel("keys"); err != nil {
		t.Fatal(err)
	}
	l.Keys("SKEYID_d", zap.String("hex", "00"))
	if !strings.Contains(buf.String(), "keys\tSKEYID_d") {
		t.Fatalf("keys level entry missing: %q", buf.String())
	}
}

func TestLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(LogConfig{Level: "info", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Emit(EngineDetached())
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if rec["msg"] != "IPSEC: Detaching from the TCP/IP stack" || rec["catalog"] != float64(3) {
		t.Errorf("record %v", rec)
	}
	if rec["level"] != "info" {
		t.Errorf("level %v", rec["level"])
	}
}

// TestLoggerWarnAlias: "warn" (as zap and most loggers spell it) is the
// warning level: a notice is filtered out, a warning written as "warning".
func TestLoggerWarnAlias(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(LogConfig{Level: "warn"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Emit(SendingNotification(netip.MustParseAddrPort("192.0.2.2:500"), "NO-PROPOSAL-CHOSEN"))
	l.Emit(Phase1LifetimeShort(60, 300))
	out := buf.String()
	if strings.Contains(out, "Sending notification") || !strings.Contains(out, "warning\tPhase-1 lifetime is too short") {
		t.Errorf("level warn wrote:\n%s", out)
	}
	if err := l.SetLevel("warn"); err != nil {
		t.Errorf("SetLevel(warn): %v", err)
	}
	a, errA := ParseLevel("warn")
	b, errB := ParseLevel("warning")
	if errA != nil || errB != nil || a != b {
		t.Errorf("ParseLevel: warn=%v,%v warning=%v,%v", a, errA, b, errB)
	}
}

func TestLoggerBadConfig(t *testing.T) {
	if _, err := NewLogger(LogConfig{Level: "loud"}, nil); err == nil {
		t.Error("unknown level accepted")
	}
	if _, err := NewLogger(LogConfig{Format: "xml"}, nil); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestLoggerSyslog runs a syslog socket at /dev/log's place only when the
// machine has none: log/syslog dials the well-known paths, so the test reads
// what arrives on a real /dev/log if one can be made.
func TestLoggerSyslog(t *testing.T) {
	if _, err := os.Stat("/dev/log"); err == nil {
		t.Skip("a syslog daemon owns /dev/log here; not intercepting it")
	}
	if os.Geteuid() != 0 {
		t.Skip("creating /dev/log needs root")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"})
	if err != nil {
		t.Skipf("cannot listen on /dev/log: %v", err)
	}
	defer os.Remove("/dev/log")
	defer conn.Close()
	var buf bytes.Buffer
	l, err := NewLogger(LogConfig{Level: "info", Syslog: true}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Emit(SendingNotification(netip.MustParseAddrPort("192.0.2.2:500"), "NO-PROPOSAL-CHOSEN"))
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 2048)
	n, err := conn.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b[:n])
	// facility daemon (3) * 8 + notice (5) = 29
	if !strings.HasPrefix(got, "<29>") || !strings.Contains(got, "Sending notification to 192.0.2.2 : NO-PROPOSAL-CHOSEN") {
		t.Errorf("syslog got %q", got)
	}
}
