package notify

import (
	"errors"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
)

type journalEntry struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

// journalLogger is a logger whose journal core records what it would send;
// the datagrams themselves are tested against a socket in cmd/iked
// (TestJournalFields).
func journalLogger(t *testing.T, level string) (*Logger, *[]journalEntry) {
	t.Helper()
	l, err := NewLogger(LogConfig{Level: level, Journal: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []journalEntry
	saved := journalSend
	t.Cleanup(func() { journalSend = saved })
	journalSend = func(m string, p journal.Priority, v map[string]string) error {
		got = append(got, journalEntry{m, p, v})
		return nil
	}
	return l, &got
}

func TestJournalCoreFields(t *testing.T) {
	l, got := journalLogger(t, "debug")
	m := msg(46, "initiator", "ipv4:192.0.2.1", "ipv4:192.0.2.2", "no proposal chosen")
	l.With(zap.String("conn", "site-b")).Emit(m, zap.Stringer("peer", stringer("192.0.2.2:500")), zap.Error(errors.New("boom")))
	l.Debug("a diagnostic", zap.Int("half-open", 3), zap.Strings("listening", []string{"a", "b"}))
	if len(*got) != 2 {
		t.Fatalf("%d entries sent, want 2", len(*got))
	}
	e := (*got)[0]
	want := map[string]string{
		"SYSLOG_IDENTIFIER": "iked", "IKED_CATALOG": "46", "IKED_CONN": "site-b",
		"IKED_PEER": "192.0.2.2:500", "IKED_ERROR": "boom",
	}
	for k, v := range want {
		if e.vars[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, e.vars[k], v, e.vars)
		}
	}
	if e.pri != priorityOf(m.Level) {
		t.Errorf("priority %d for a %v message", e.pri, m.Level)
	}
	if !strings.HasPrefix(e.msg, m.Text) || !strings.Contains(e.msg, `"catalog": 46`) {
		t.Errorf("MESSAGE %q: want the text, then the fields", e.msg)
	}
	d := (*got)[1]
	if d.pri != journal.PriDebug || d.vars["IKED_HALF_OPEN"] != "3" || d.vars["IKED_LISTENING"] != `["a","b"]` {
		t.Errorf("debug entry: priority %d, fields %v", d.pri, d.vars)
	}
	if _, ok := d.vars["IKED_CATALOG"]; ok {
		t.Error("a diagnostic outside the catalog has IKED_CATALOG")
	}
}

func TestJournalCoreLevel(t *testing.T) {
	l, got := journalLogger(t, "warning")
	l.Info("not sent")
	l.Warn("sent")
	if len(*got) != 1 || (*got)[0].pri != journal.PriWarning {
		t.Fatalf("sent %+v, want the warning alone", *got)
	}
	if err := l.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	l.Debug("now sent")
	if len(*got) != 2 {
		t.Fatalf("after SetLevel(debug): %d entries", len(*got))
	}
}

func priorityOf(l Level) journal.Priority { return journalPriority(l.zap()) }

type stringer string

func (s stringer) String() string { return string(s) }
