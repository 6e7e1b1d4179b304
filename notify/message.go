// Package notify holds iked's message catalog and its logger.
//
// The catalog (catalog.go) is the only place in iked where the text of the
// documented messages is written: every other package calls a constructor
// here, so that an operator who greps the log for the documented text finds
// it, character for character.
package notify

import (
	"fmt"
	"strings"
)

// Level is the severity a catalog message is logged at. It mirrors syslog's
// severities because operators route iked's messages by them.
type Level int8

const (
	LevelInfo Level = iota
	LevelNotice
	LevelWarning
	LevelError
)

func (l Level) String() string {
	switch l {
	case LevelInfo:
		return "info"
	case LevelNotice:
		return "notice"
	case LevelWarning:
		return "warning"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

// Message is one catalog message with its placeholders filled in. It
// implements error so that the policy and certificate managers can return
// their findings and let the caller decide how to log and what to refuse.
type Message struct {
	Num   int    // the catalog number (docs/messages.md)
	Level Level  // the level docs/messages.md gives
	Text  string // the exact text, placeholders filled in
}

func (m Message) Error() string { return m.Text }

// Serious reports whether the message, when the policy manager emits it,
// stops the policy from being instantiated (docs/policy-file.md,
// "Findings"): every B.2 error is, the warnings that skip or force an item are
// not.
func (m Message) Serious() bool { return m.Level == LevelError }

// entry is a catalog template: a format whose verbs stand where
// docs/messages.md has placeholders, and the placeholders' spelling there.
// The catalog tests rebuild the documented line from both.
type entry struct {
	num     int
	section string
	level   Level
	format  string
	holders []string
}

func (e *entry) make(args ...any) Message {
	return Message{Num: e.num, Level: e.level, Text: fmt.Sprintf(e.format, args...)}
}

// text rebuilds the documented line (docs/messages.md) by putting each
// placeholder's spelling where the format has a verb.
func (e *entry) text() string {
	var b strings.Builder
	h := 0
	for i := 0; i < len(e.format); i++ {
		c := e.format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if e.format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if h < len(e.holders) {
			b.WriteString(e.holders[h])
		}
		h++
	}
	return b.String()
}
