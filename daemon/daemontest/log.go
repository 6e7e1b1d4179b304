package daemontest

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
)

// MaxLog bounds a LogBuffer, for the reason MaxDatagrams bounds a Net: a
// runaway loop in virtual time logs without end.
const MaxLog = 512 << 20

// LogBuffer is a log sink that a test reads while daemons write to it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > MaxLog {
		tail := l.b.Bytes()[l.b.Len()-2048:]
		runaway(fmt.Sprintf("a test's log grew past %d MiB; it ends:\n%s", MaxLog>>20, tail))
	}
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runaway stops the test binary with every goroutine's stack: the loop
// that ran away is among them.
func runaway(why string) {
	debug.SetTraceback("all")
	panic("daemontest: " + why)
}

// describe names datagrams for runaway: sender, receiver, size and the
// ISAKMP exchange type (RFC 2408 section 3.1, octet 18).
func describe(ds []Sent) string {
	var b strings.Builder
	for _, d := range ds {
		x := -1
		if len(d.Data) > 18 {
			x = int(d.Data[18])
		}
		fmt.Fprintf(&b, "\n  #%d %v -> %v, %d bytes, exchange %d, lost %v", d.N, d.From, d.To, len(d.Data), x, d.Lost)
	}
	return b.String()
}
