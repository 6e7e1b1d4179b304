package main

import (
	"bufio"
	"errors"
	"io"
)

// errUnfinished is an answer that ends before its newline: the daemon
// stopped, or it found the answer too long, after it began to send it
// (control/listsas.go).
var errUnfinished = errors.New("control: receive: the answer ends unfinished")

// indentJSON copies one line of compact JSON (as encoding/json writes it:
// no space outside strings) from r to w, indented as json.Indent(dst,
// src, "", "  ") indents it, a byte at a time rather than the whole
// answer in memory (TestIndentJSON). It returns at the line's newline,
// written too.
func indentJSON(w *bufio.Writer, r *bufio.Reader) error {
	depth, inString, escaped, open := 0, false, false, false
	newline := func(d int) {
		w.WriteByte('\n')
		for range d {
			w.WriteString("  ")
		}
	}
	for {
		c, err := r.ReadByte()
		if err == io.EOF {
			return errUnfinished
		}
		if err != nil {
			return err
		}
		if inString {
			w.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if open {
			// After { or [: an empty one closes at once, anything
			// else goes on a line of its own.
			open = false
			if c != '}' && c != ']' {
				newline(depth)
			} else {
				depth--
				w.WriteByte(c)
				continue
			}
		}
		switch c {
		case '\n':
			return w.WriteByte('\n')
		case '"':
			inString = true
			w.WriteByte(c)
		case '{', '[':
			depth++
			open = true
			w.WriteByte(c)
		case '}', ']':
			depth--
			newline(depth)
			w.WriteByte(c)
		case ',':
			w.WriteByte(c)
			newline(depth)
		case ':':
			w.WriteString(": ")
		default:
			w.WriteByte(c)
		}
	}
}
