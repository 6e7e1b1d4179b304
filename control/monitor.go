package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Event is one line of `ikectl monitor`: an SA coming up or going down,
// or a catalog message (a failure with its number in docs/messages.md,
// a warning, a peer's delete).
type Event struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	// Kind is start (the first event: the stream is in place), sa-up,
	// sa-down, ipsec-up, ipsec-down (the lines the daemon marks so),
	// message for any other catalog message, or lost when events were
	// dropped because the client did not keep up.
	Kind    string            `json:"kind"`
	Catalog int               `json:"catalog,omitempty"` // the message number, 0 outside the catalog
	Text    string            `json:"text"`
	Fields  map[string]string `json:"fields,omitempty"` // conn, peer, reason, ...
}

// MonitorFunc streams events to a monitor client: it calls send for each
// until stop is closed (the client left or the server closes) or send
// fails, then returns.
type MonitorFunc func(stop <-chan struct{}, send func(Event) error)

// HandleMonitor makes the server answer the monitor command with f. Call
// it before Serve; without it, monitor is answered with an error.
func (s *Server) HandleMonitor(f MonitorFunc) { s.monitor = f }

// serveMonitor acknowledges a monitor request with an empty response and
// streams events on the connection until the client closes it.
func (s *Server) serveMonitor(c net.Conn, r *bufio.Reader) {
	if s.monitor == nil {
		_ = writeMessage(c, Response{Error: "this daemon has no event stream"}, MaxMessage)
		return
	}
	_ = c.SetDeadline(time.Time{})
	if err := writeMessage(c, Response{}, MaxMessage); err != nil {
		return
	}
	stop := make(chan struct{})
	go func() {
		// The client sends nothing more: a read returns when it closes
		// the connection or Close closes it here.
		_, _ = io.Copy(io.Discard, r)
		close(stop)
	}()
	s.monitor(stop, func(e Event) error {
		_ = c.SetWriteDeadline(time.Now().Add(s.timeout))
		return writeMessage(c, e, MaxMessage)
	})
}

// Monitor asks the daemon at path for its event stream and calls f for
// each event until f returns an error (returned, unless it is ErrStop),
// done is closed, or the daemon closes the stream (io.EOF). timeout bounds
// the connection and the daemon's acknowledgement only.
func Monitor(path string, timeout time.Duration, done <-chan struct{}, f func(Event) error) error {
	c, err := connect(path, Request{Command: CmdMonitor}, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	var ack Response
	if err := readMessage(r, &ack, MaxMessage); err != nil {
		return fmt.Errorf("control: receive: %w", err)
	}
	if ack.Error != "" {
		return errors.New(ack.Error)
	}
	_ = c.SetDeadline(time.Time{})
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-done:
			c.Close()
		case <-stopped:
		}
	}()
	for {
		var e Event
		if err := readMessage(r, &e, MaxMessage); err != nil {
			select {
			case <-done:
				return nil
			default:
			}
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return fmt.Errorf("control: receive: %w", err)
		}
		if err := f(e); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
}

// ErrStop, returned by Monitor's callback, ends the stream without error.
var ErrStop = errors.New("control: stop")
