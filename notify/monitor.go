package notify

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The events `ikectl monitor` streams besides the catalog messages. The
// lines that report them carry the kind in the field "event", so that a
// log reader can filter on it too.
const (
	EventSAUp      = "sa-up"      // an ISAKMP SA established
	EventSADown    = "sa-down"    // an ISAKMP SA removed, with its reason
	EventIPsecUp   = "ipsec-up"   // an IPsec SA bundle installed
	EventIPsecDown = "ipsec-down" // an IPsec SA bundle removed
)

// EventField marks a log line as one of the monitor's events (EventSAUp,
// ...).
func EventField(kind string) zap.Field { return zap.String("event", kind) }

// Entry is one log entry a monitor receives: a catalog message (Catalog
// is its number in docs/messages.md) or a line marked with an event.
type Entry struct {
	Time    time.Time
	Level   string
	Text    string
	Catalog int    // 0 for a line outside the catalog
	Event   string // EventSAUp, ...; empty for a plain catalog message
	// Fields are the entry's other fields (conn, peer, reason, ...) as
	// the JSON log format would write them.
	Fields map[string]any
}

// Subscription receives the entries logged at info level or above that
// are catalog messages or events, whatever the log level: an operator
// watching `ikectl monitor` sees the failures of a daemon that logs only
// errors. Secrets never reach it: they are logged at the keys level.
type Subscription struct {
	C       <-chan Entry
	c       chan Entry
	hub     *hub
	dropped atomic.Uint64
}

// Dropped counts the entries lost because C was full (a reader that does
// not keep up loses entries; the daemon never waits for it).
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription; C is not closed, so that a Write racing
// with Close cannot send on a closed channel.
func (s *Subscription) Close() { s.hub.remove(s) }

// Subscribe starts a subscription whose channel holds up to buf entries.
func (l *Logger) Subscribe(buf int) *Subscription {
	s := &Subscription{c: make(chan Entry, buf), hub: l.hub}
	s.C = s.c
	l.hub.add(s)
	return s
}

// hub fans log entries out to the subscriptions.
type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	n    atomic.Int32
}

func newHub() *hub { return &hub{subs: map[*Subscription]struct{}{}} }

func (h *hub) add(s *Subscription) {
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	h.mu.Unlock()
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
	h.mu.Unlock()
}

func (h *hub) publish(e Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

// hubCore is the zap core that feeds the hub. It is enabled only while
// someone subscribes, so that an unwatched daemon pays nothing for it.
type hubCore struct {
	hub    *hub
	fields []zapcore.Field
}

func (c *hubCore) Enabled(l zapcore.Level) bool { return l >= zapInfo && c.hub.n.Load() > 0 }

func (c *hubCore) With(fs []zapcore.Field) zapcore.Core {
	return &hubCore{hub: c.hub, fields: append(append([]zapcore.Field(nil), c.fields...), fs...)}
}

func (c *hubCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *hubCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	out := Entry{Time: e.Time, Level: levelNames[e.Level], Text: e.Message, Fields: enc.Fields}
	if n, ok := enc.Fields["catalog"].(int64); ok {
		out.Catalog = int(n)
		delete(enc.Fields, "catalog")
	}
	if k, ok := enc.Fields["event"].(string); ok {
		out.Event = k
		delete(enc.Fields, "event")
	}
	if out.Catalog == 0 && out.Event == "" {
		return nil
	}
	c.hub.publish(out)
	return nil
}

func (c *hubCore) Sync() error { return nil }
