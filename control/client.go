package control

import (
	"bytes"
	"io"
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
	return CallEach(path, req, timeout, nil)
}
