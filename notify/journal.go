package notify

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// journalCore sends entries to the systemd journal with native fields
// (systemd.journal-fields(7)): MESSAGE is the line as syslog would have
// it, PRIORITY the level, SYSLOG_IDENTIFIER iked, and every zap field is
// a field of its own, upper-cased with the IKED_ prefix, so that a catalog
// message's number is IKED_CATALOG and `journalctl IKED_CATALOG=46` finds
// it. The datagram protocol is go-systemd's journal package.
type journalCore struct {
	zapcore.LevelEnabler
	enc    zapcore.Encoder // MESSAGE: text and fields, no time or level
	fields []zapcore.Field // from With
}

// journalSend sends one entry; tests replace it.
var journalSend = journal.Send

func newJournalCore(lvl zapcore.LevelEnabler) zapcore.Core {
	cfg := encoderConfig()
	cfg.TimeKey = "" // the journal stamps the time
	cfg.LevelKey = ""
	return &journalCore{LevelEnabler: lvl, enc: zapcore.NewConsoleEncoder(cfg)}
}

// JournalStream reports whether standard error is connected to the
// journal (systemd sets JOURNAL_STREAM for a service whose output goes
// there): the logger then writes native journal entries instead of lines.
func JournalStream() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

func (c *journalCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &journalCore{LevelEnabler: c.LevelEnabler, enc: enc,
		fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *journalCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *journalCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	msg := strings.TrimRight(buf.String(), "\n")
	buf.Free()
	return journalSend(msg, journalPriority(e.Level), journalFields(append(append([]zapcore.Field(nil), c.fields...), fields...)))
}

func (c *journalCore) Sync() error { return nil }

// journalPriority maps iked's levels to syslog's severities, which the
// journal's PRIORITY field uses.
func journalPriority(l zapcore.Level) journal.Priority {
	switch {
	case l >= zapError:
		return journal.PriErr
	case l == zapWarning:
		return journal.PriWarning
	case l == zapNotice:
		return journal.PriNotice
	case l == zapInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// journalFields turns zap fields into journal fields: IKED_ and the key
// upper-cased, characters other than letters and digits as '_'; values
// as text, objects and arrays as JSON.
func journalFields(fields []zapcore.Field) map[string]string {
	m := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(m)
	}
	vars := map[string]string{"SYSLOG_IDENTIFIER": "iked"}
	for k, v := range m.Fields {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case fmt.Stringer:
			s = v.String()
		case map[string]any, []any:
			b, err := json.Marshal(v)
			if err != nil {
				s = fmt.Sprint(v)
			} else {
				s = string(b)
			}
		default:
			s = fmt.Sprint(v)
		}
		vars[journalName(k)] = s
	}
	return vars
}

func journalName(key string) string {
	b := []byte("IKED_" + strings.ToUpper(key))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
