package control

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Handler answers one request. The daemon's implementation hands it to its
// event loop, so it may block until the loop answers.
type Handler func(Request) Response

// Server accepts control connections on a unix socket.
type Server struct {
	path    string
	ln      *net.UnixListener
	handle  Handler
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	timeout time.Duration
	monitor MonitorFunc
	listSAs SALister
}

// MaxConns bounds the control connections served at once; more wait in the
// kernel's backlog.
const MaxConns = 16

// Listen creates the socket at path with mode 0600 (its directory is created
// with mode 0700 if missing) and returns a server that is not yet serving.
// A stale socket left by a daemon that died is removed; a socket that
// answers belongs to a running daemon and is an error. The directory,
// made now or found, must belong to root or to the daemon's user and be
// writable by nobody else (checkDir).
func Listen(path string, h Handler) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control: %s: another daemon is listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: removing stale socket: %w", err)
		}
	}
	// The umask makes the socket 0600 from its creation, with no window in
	// which another user could connect.
	old := umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return &Server{path: path, ln: ln, handle: h, conns: map[net.Conn]struct{}{}, timeout: DefaultTimeout}, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until Close. It returns nil after Close.
func (s *Server) Serve() error {
	sem := make(chan struct{}, MaxConns)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		sem <- struct{}{}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			<-sem
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() { <-sem }()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(s.timeout))
	var req Request
	r := bufio.NewReader(c)
	if err := readMessage(r, &req, MaxMessage); err != nil {
		_ = writeMessage(c, Response{Error: err.Error()}, MaxMessage)
		return
	}
	if err := req.Validate(); err != nil {
		_ = writeMessage(c, Response{Error: err.Error()}, MaxMessage)
		return
	}
	if req.Command == CmdMonitor {
		s.serveMonitor(c, r)
		return
	}
	if req.Command == CmdListSAs && s.listSAs != nil {
		s.streamSAs(c, req, s.listSAs)
		return
	}
	resp := s.handle(req)
	if err := writeMessage(c, resp, MaxResponse); errors.Is(err, ErrTooLong) {
		// Say so rather than close without an answer.
		_ = writeMessage(c, Response{Error: fmt.Sprintf("%s: the answer exceeds %d bytes", req.Command, MaxResponse)}, MaxMessage)
	}
}

// Close stops accepting, closes the open connections, waits for their
// handlers and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close() // removes the socket file (unlink on close)
	s.wg.Wait()
	return err
}
