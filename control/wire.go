package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLong is returned for a message above its limit (MaxMessage,
// MaxResponse).
var ErrTooLong = errors.New("control: message too long")

// writeMessage writes v as one line of JSON of at most limit bytes.
func writeMessage(w io.Writer, v any, limit int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > limit {
		return ErrTooLong
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// readMessage reads one line of JSON into v, at most limit bytes.
func readMessage(r *bufio.Reader, v any, limit int) error {
	line, err := readLine(r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytesReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("control: bad message: %w", err)
	}
	return nil
}
