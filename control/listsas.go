package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// SALister answers list-sas in pieces: it passes the ISAKMP SAs (those of
// the connection or the SA req.Name names, when it is set) to yield
// a batch at a time, oldest first, and returns the detached bundles at
// the end. yield returns false when the client is gone; the lister then
// stops. err (the daemon is stopping) ends the answer.
//
// The daemon builds each batch on its event loop and the server encodes
// one while the loop goes on with IKE traffic: with 100,000 SAs, neither
// the whole answer (over 100 MB of JSON) is held at once, nor is the loop
// kept from its work for the whole listing (docs/performance.md, "ikectl
// list-sas at scale").
type SALister func(req Request, yield func([]SA) bool) (detached []ChildSA, err error)

// HandleListSAs makes the server answer list-sas through l rather than
// the Handler. The answer is the same line of JSON, written as it is
// built.
func (s *Server) HandleListSAs(l SALister) { s.listSAs = l }

// Collect runs l to the end and returns its answer to req as one
// Response, for in-process callers.
func (l SALister) Collect(req Request) Response {
	var resp Response
	detached, err := l(req, func(sas []SA) bool {
		resp.SAs = append(resp.SAs, sas...)
		return true
	})
	if err != nil {
		return Response{Error: err.Error()}
	}
	resp.Detached = detached
	return resp
}

// streamSAs writes the answer of l as writeMessage would write the
// Response that Collect returns, a batch at a time. An error (or an
// answer above MaxResponse) after the first SA went out can no longer
// be said in the answer: the connection is closed with the line
// unfinished, which the client reports as a broken answer.
func (s *Server) streamSAs(c net.Conn, req Request, l SALister) {
	w := bufio.NewWriterSize(c, 64<<10)
	var b []byte
	started, failed, n := false, false, 0
	detached, err := l(req, func(sas []SA) bool {
		b = b[:0]
		for i := range sas {
			if started {
				b = append(b, ',')
			} else {
				b = append(b, `{"sas":[`...)
				started = true
			}
			b = sas[i].AppendJSON(b)
		}
		n += len(b)
		if n > MaxResponse {
			failed = true
			return false
		}
		if _, err := w.Write(b); err != nil {
			failed = true
			return false
		}
		return true
	})
	switch {
	case failed:
		return
	case !started:
		resp := Response{Detached: detached}
		if err != nil {
			resp = Response{Error: err.Error()}
		}
		_ = writeMessage(c, resp, MaxResponse)
		return
	case err != nil:
		return
	}
	b = append(b[:0], ']')
	if len(detached) > 0 {
		b = append(b, `,"detached":[`...)
		for i := range detached {
			if i > 0 {
				b = append(b, ',')
			}
			b = detached[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	if n+len(b) > MaxResponse+1 {
		return
	}
	if _, err := w.Write(b); err == nil {
		_ = w.Flush()
	}
}

// CallEach is Call for answers too long to hold: the ISAKMP SAs of a
// list-sas answer are passed to each as they are read, one at a time,
// and are not kept in the Response. An error from each ends the call.
func CallEach(path string, req Request, timeout time.Duration, each func(SA) error) (*Response, error) {
	var resp *Response
	err := dial(path, req, timeout, func(r *bufio.Reader) error {
		var err error
		resp, err = decodeResponse(&limitedReader{r: r, left: MaxResponse + 1}, each)
		return err
	})
	return resp, err
}

// CallRaw sends one request and lets read read the daemon's answer as it
// comes, one line of JSON, not decoded (ikectl -json indents it as it
// arrives). Past MaxResponse, r fails with ErrTooLong.
func CallRaw(path string, req Request, timeout time.Duration, read func(r *bufio.Reader) error) error {
	return dial(path, req, timeout, func(r *bufio.Reader) error {
		return read(bufio.NewReaderSize(&limitedReader{r: r, left: MaxResponse + 1}, 64<<10))
	})
}

// dial sends req on a new connection to the socket at path and lets read
// read the answer.
func dial(path string, req Request, timeout time.Duration, read func(*bufio.Reader) error) error {
	if err := req.Validate(); err != nil {
		return err
	}
	c, err := connect(path, req, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := read(bufio.NewReaderSize(c, 64<<10)); err != nil {
		return fmt.Errorf("control: receive: %w", err)
	}
	return nil
}

// connect opens a connection to the socket at path, with timeout as its
// deadline (DefaultTimeout for 0), and sends req.
func connect(path string, req Request, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("control: is iked running? %w", err)
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, err
	}
	if err := writeMessage(c, req, MaxMessage); err != nil {
		c.Close()
		return nil, fmt.Errorf("control: send: %w", err)
	}
	return c, nil
}

// decodeResponse reads one Response from r as readMessage does (unknown
// fields refused), handing the elements of "sas" to each when it is set.
func decodeResponse(r io.Reader, each func(SA) error) (*Response, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	bad := func(err error) (*Response, error) {
		if errors.Is(err, ErrTooLong) {
			return nil, err
		}
		return nil, fmt.Errorf("control: bad message: %w", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return bad(err)
	}
	var resp Response
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string)
		var v any
		switch key {
		case "error":
			v = &resp.Error
		case "messages":
			v = &resp.Messages
		case "status":
			v = &resp.Status
		case "detached":
			v = &resp.Detached
		case "conns":
			v = &resp.Conns
		case "certs":
			v = &resp.Certs
		case "leases":
			v = &resp.Leases
		case "stats":
			v = &resp.Stats
		case "sas":
			if err := decodeSAs(dec, &resp, each); err != nil {
				return bad(err)
			}
			continue
		default:
			return bad(fmt.Errorf("unknown field %q", key))
		}
		if err := dec.Decode(v); err != nil {
			return bad(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return bad(err)
	}
	return &resp, nil
}

// decodeSAs reads the array of SAs, one saWire at a time.
func decodeSAs(dec *json.Decoder, resp *Response, each func(SA) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for dec.More() {
		var w saWire
		if err := dec.Decode(&w); err != nil {
			return err
		}
		if each == nil {
			resp.SAs = append(resp.SAs, w.sa())
		} else if err := each(w.sa()); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("%v where %v belongs", tok, d)
	}
	return nil
}

// readLine reads one line of at most limit bytes, without its newline.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit+1 {
			return nil, ErrTooLong
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case err == io.EOF && len(line) > 0:
			return line, nil
		case err != bufio.ErrBufferFull:
			return nil, err
		}
	}
}

// limitedReader fails with ErrTooLong past its limit.
type limitedReader struct {
	r    io.Reader
	left int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrTooLong
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	return n, err
}
