package control

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"time"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// DefaultTimeout bounds one request: a reload with a large policy file
// takes well under it.
const DefaultTimeout = 30 * time.Second

// Call sends one request to the daemon's socket and returns its response.
// A response with Error set is returned as is, with a nil error: the caller
// prints the daemon's reason; err is for a socket that does not answer.
func Call(path string, req Request, timeout time.Duration) (*Response, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("control: is iked running? %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if err := writeMessage(c, req, MaxMessage); err != nil {
		return nil, fmt.Errorf("control: send: %w", err)
	}
	var resp Response
	if err := readMessage(bufio.NewReader(c), &resp, MaxResponse); err != nil {
		return nil, fmt.Errorf("control: receive: %w", err)
	}
	return &resp, nil
}
