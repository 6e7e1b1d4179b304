package policymgr

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"go.uber.org/zap"

	"github.com/iked/iked/notify"
)

// Finding is one thing Load found in the policy file: a catalog message,
// or, for a mistake the catalog has no message for (a YAML syntax error,
// an unknown or duplicate key, a wrong type, an unknown algorithm, a name
// that is not defined), a plain message with Num 0.
//
// How the two kinds are reported, decided here once for the whole daemon:
//   - a catalog message keeps the catalog's text exactly; its place in the
//     file travels beside it, in Line (and in zap fields "file", "line");
//   - a non-catalog finding has Num 0, level error, and text that starts
//     with its line: `line 12: unknown key "remote-adress" in connection
//     "branch"`. It is serious: like any B.2 error it stops the policy and
//     is followed by message 21.
type Finding struct {
	notify.Message
	File string // the policy file
	Line int    // 1-based line in File, 0 when the finding has no single place
	// Detail explains a catalog message in plain words where the
	// certificate manager has more to say (which file, what is wrong).
	Detail string
}

// Fields returns the zap fields that place a finding in the file, for the
// daemon's log line of a catalog message.
func (f Finding) Fields() []zap.Field {
	fs := []zap.Field{zap.String("file", f.File)}
	if f.Line > 0 {
		fs = append(fs, zap.Int("line", f.Line))
	}
	if f.Detail != "" {
		fs = append(fs, zap.String("detail", f.Detail))
	}
	return fs
}

// String is the finding as `iked -check` prints it: file, line, level, text
// (a non-catalog finding carries its line in its text already).
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s: %s", f.File, f.Level, f.Text)
	if f.Line > 0 && f.Num != 0 {
		s = fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Level, f.Text)
	}
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s
}

// WriteReport prints findings one a line, as `iked -check` shows them.
func WriteReport(w io.Writer, findings []Finding) error {
	for _, f := range findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}

// CheckReport is `iked -check -json`'s output, for CI pipelines: the file,
// whether the policy would be instantiated, and every finding. A field's
// meaning is in docs/policy-file.md ("Checking a file").
type CheckReport struct {
	File     string        `json:"file"`
	OK       bool          `json:"ok"`
	Findings []JSONFinding `json:"findings"`
}

// JSONFinding is one finding in a CheckReport. Catalog is the message's
// number in docs/messages.md, 0 for a finding the catalog has no message
// for; Serious says whether it stops the policy.
type JSONFinding struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Level   string `json:"level"`
	Catalog int    `json:"catalog"`
	Serious bool   `json:"serious"`
	Text    string `json:"text"`
	Detail  string `json:"detail,omitempty"`
}

// WriteJSONReport prints the findings of a check of file as one JSON
// document (CheckReport), as `iked -check -json` shows them.
func WriteJSONReport(w io.Writer, file string, findings []Finding, ok bool) error {
	r := CheckReport{File: file, OK: ok, Findings: make([]JSONFinding, 0, len(findings))}
	for _, f := range findings {
		r.Findings = append(r.Findings, JSONFinding{File: f.File, Line: f.Line, Level: f.Level.String(),
			Catalog: f.Num, Serious: f.Serious(), Text: f.Text, Detail: f.Detail})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Messages returns the catalog (and Num 0) messages of findings, in order.
func Messages(findings []Finding) []notify.Message {
	if len(findings) == 0 {
		return nil
	}
	ms := make([]notify.Message, len(findings))
	for i, f := range findings {
		ms[i] = f.Message
	}
	return ms
}

// anySerious reports whether the findings stop the policy.
func anySerious(findings []Finding) bool {
	for _, f := range findings {
		if f.Serious() {
			return true
		}
	}
	return false
}

// plain makes a non-catalog finding's message. Level error: it is serious.
func plain(line int, format string, args ...any) notify.Message {
	return plainAt(notify.LevelError, line, format, args...)
}

// plainAt makes a non-catalog finding's message at a level. Below error it
// is not serious (docs/policy-file.md, "What is serious"): a warning says what
// loads although it weakens the policy, an info what `iked -check`
// describes.
func plainAt(level notify.Level, line int, format string, args ...any) notify.Message {
	text := fmt.Sprintf(format, args...)
	if line > 0 {
		text = fmt.Sprintf("line %d: %s", line, text)
	}
	return notify.Message{Num: 0, Level: level, Text: text}
}

// sortByLine puts findings in file order; findings of the same line keep
// the order they were found in, so that a connection's messages read in
// the order its keys were checked.
func sortByLine(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Line < fs[j].Line })
}
