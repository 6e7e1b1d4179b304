package notify

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that counts writes, safe for Buffered's
// timer goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) state() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

// TestBufferedHoldsUntilErrorOrSync: with a delay that never fires in the
// test, info and warning lines wait; an error line goes out at once with
// every line before it, in order, in one write; Sync writes the rest.
func TestBufferedHoldsUntilErrorOrSync(t *testing.T) {
	var out lockedBuffer
	b := NewBuffered(&out, time.Hour)
	l, err := NewLogger(LogConfig{Level: "info"}, b)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("first")
	l.Warn("second")
	if s, _ := out.state(); s != "" {
		t.Fatalf("written before an error or Sync:\n%s", s)
	}
	l.Error("third")
	s, n := out.state()
	if n != 1 || !strings.Contains(s, "first") || !strings.Contains(s, "third") ||
		strings.Index(s, "first") > strings.Index(s, "second") || strings.Index(s, "second") > strings.Index(s, "third") {
		t.Fatalf("after an error, %d writes of:\n%s", n, s)
	}
	l.Info("fourth")
	if s, _ := out.state(); strings.Contains(s, "fourth") {
		t.Fatalf("an info line went out at once:\n%s", s)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if s, n := out.state(); n != 2 || !strings.HasSuffix(strings.TrimSpace(s), "fourth") {
		t.Fatalf("after Sync, %d writes of:\n%s", n, s)
	}
}

// TestBufferedFlushesByItself: lines go out without Sync, once the delay
// has passed; a full buffer goes out at once.
func TestBufferedFlushesByItself(t *testing.T) {
	var out lockedBuffer
	b := NewBuffered(&out, time.Millisecond)
	l, err := NewLogger(LogConfig{Level: "info"}, b)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("by itself")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s, _ := out.state(); strings.Contains(s, "by itself") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a line never went out")
		}
	}

	var big lockedBuffer
	b = NewBuffered(&big, time.Hour)
	line := strings.Repeat("x", 1000) + "\n"
	for range defaultFlushLimit/len(line) + 1 {
		b.Write([]byte(line))
	}
	if s, n := big.state(); n != 1 || len(s) < defaultFlushLimit || len(s)%len(line) != 0 {
		t.Fatalf("a full buffer: %d writes, %d bytes", n, len(s))
	}
}
