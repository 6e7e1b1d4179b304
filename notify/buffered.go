package notify

import (
	"io"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// Buffered gathers log lines and writes them together, so that a busy
// daemon does not make one write system call per line: the first line
// written into an empty buffer arms a timer of Delay, and the buffer is
// written out when it fires, when the buffer passes Limit bytes, or on
// Sync. An idle daemon has no timer running. A logger writing to a
// Buffered writes it out after every error level entry (flushAbove), so
// that the lines before a failure are not held back behind a timer. A
// line is never split.
type Buffered struct {
	w     io.Writer
	delay time.Duration
	limit int

	mu    sync.Mutex
	buf   []byte
	armed bool
	timer *time.Timer
	err   error // the last write's error, returned by Sync
}

// Default delay and size of NewBuffered's buffer: a line waits at most
// DefaultFlushDelay; 64 KiB holds some 250 lines of a busy responder.
const (
	DefaultFlushDelay = 10 * time.Millisecond
	defaultFlushLimit = 64 << 10
)

// NewBuffered returns a Buffered writing to w, flushing every delay at
// the latest (DefaultFlushDelay when delay is 0).
func NewBuffered(w io.Writer, delay time.Duration) *Buffered {
	if delay <= 0 {
		delay = DefaultFlushDelay
	}
	b := &Buffered{w: w, delay: delay, limit: defaultFlushLimit}
	b.timer = time.AfterFunc(time.Hour, b.flushTimer)
	b.timer.Stop()
	return b
}

// Write buffers p, one encoded log entry.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= b.limit {
		b.flushLocked()
	} else if !b.armed {
		b.armed = true
		b.timer.Reset(b.delay)
	}
	return len(p), nil
}

// Sync writes out what is buffered and returns the error of the last
// failed write, if any (then forgets it).
func (b *Buffered) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	err := b.err
	b.err = nil
	return err
}

func (b *Buffered) flushTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *Buffered) flushLocked() {
	if b.armed {
		b.timer.Stop()
		b.armed = false
	}
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil {
		b.err = err
	}
	// A rare huge entry must not keep a huge buffer.
	if cap(b.buf) > 4*b.limit {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
}

// flushAbove is a core that syncs its writer after each entry at or above
// a level: NewLogger's console core when it writes to a Buffered.
type flushAbove struct {
	zapcore.Core
	level zapcore.Level
}

func (c *flushAbove) With(fields []zapcore.Field) zapcore.Core {
	return &flushAbove{Core: c.Core.With(fields), level: c.level}
}

func (c *flushAbove) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *flushAbove) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := c.Core.Write(e, fields)
	if e.Level >= c.level {
		if serr := c.Sync(); err == nil {
			err = serr
		}
	}
	return err
}
