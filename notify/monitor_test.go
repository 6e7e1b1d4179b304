package notify

import (
	"bytes"
	"testing"

	"go.uber.org/zap"
)

// TestSubscribe: a subscription gets catalog messages and event lines at
// info and above, whatever the log level, with their fields; not plain
// lines, debug lines or secrets; and nothing after Close.
func TestSubscribe(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(LogConfig{Level: "error"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Emit(EngineInitializing()) // before anyone subscribes
	s := l.Subscribe(16)
	l.Emit(Phase1Failed("initiator", "192.0.2.1", "192.0.2.2", "AUTHENTICATION-FAILED"))
	l.With(zap.String("conn", "branch")).Info("ISAKMP SA established", EventField(EventSAUp), zap.String("remote", "192.0.2.2[500]"))
	l.Info("iked started")
	l.Debug("dropped datagram", EventField(EventSADown))
	l.Keys("SKEYID", zap.String("hex", "00"), EventField(EventSAUp))
	l.Warn("a plain warning")
	l.Emit(QueueMadeSpace())
	s.Close()
	l.Emit(EngineDetached())

	var got []Entry
	for len(s.C) > 0 {
		got = append(got, <-s.C)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	if e := got[0]; e.Catalog != 46 || e.Level != "notice" || e.Event != "" ||
		e.Text != "Phase-1 [initiator] between 192.0.2.1 and 192.0.2.2 failed; AUTHENTICATION-FAILED" {
		t.Errorf("failure entry %+v", e)
	}
	if e := got[1]; e.Event != EventSAUp || e.Catalog != 0 || e.Fields["conn"] != "branch" || e.Fields["remote"] != "192.0.2.2[500]" || e.Time.IsZero() {
		t.Errorf("SA up entry %+v", e)
	}
	if e := got[2]; e.Catalog != 69 || e.Level != "warning" {
		t.Errorf("queue entry %+v", e)
	}
	if bytes.Contains(buf.Bytes(), []byte("Phase-1")) {
		t.Errorf("the log at level error wrote a notice:\n%s", buf.String())
	}
	if s.Dropped() != 0 {
		t.Errorf("dropped %d", s.Dropped())
	}
	small := l.Subscribe(1)
	defer small.Close()
	l.Emit(QueueMadeSpace())
	l.Emit(QueueMadeSpace())
	if small.Dropped() != 1 || len(small.C) != 1 {
		t.Errorf("full subscription: dropped %d, queued %d", small.Dropped(), len(small.C))
	}
}
