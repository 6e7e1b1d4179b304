package control

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startServer(t *testing.T, h Handler) *Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "iked.sock")
	s, err := Listen(path, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestRoundTrip(t *testing.T) {
	var got Request
	s := startServer(t, func(r Request) Response {
		got = r
		return Response{Conns: []Conn{{Name: "branch", LocalAddress: "198.51.100.0/24"}}}
	})
	resp, err := Call(s.Path(), Request{Command: CmdListConns}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Command != CmdListConns {
		t.Errorf("server got %+v", got)
	}
	if resp.Error != "" || len(resp.Conns) != 1 || resp.Conns[0].Name != "branch" {
		t.Errorf("response %+v", resp)
	}
}

func TestSocketMode(t *testing.T) {
	s := startServer(t, func(Request) Response { return Response{} })
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(s.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		req Request
		ok  bool
	}{
		{Request{Command: CmdStatus}, true},
		{Request{Command: CmdInitiate, Name: "branch"}, true},
		{Request{Command: CmdInitiate}, false},
		{Request{Command: CmdTerminate}, false},
		{Request{Command: CmdStatus, Name: "x"}, false},
		{Request{Command: "format-disk"}, false},
	} {
		if err := tc.req.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: err %v, want ok=%v", tc.req, err, tc.ok)
		}
	}
}

// TestServerRejectsJunk checks that the server answers garbage, an unknown
// field and an unknown command with an error instead of calling the handler.
func TestServerRejectsJunk(t *testing.T) {
	called := false
	s := startServer(t, func(Request) Response { called = true; return Response{} })
	for _, in := range []string{
		"not json\n",
		`{"command":"status","extra":1}` + "\n",
		`{"command":"reboot"}` + "\n",
		`{"command":"initiate"}` + "\n",
	} {
		c, err := net.Dial("unix", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		c.Close()
		if !strings.Contains(string(buf[:n]), `"error"`) {
			t.Errorf("%q: answer %q has no error", in, buf[:n])
		}
	}
	if called {
		t.Error("handler called for a bad request")
	}
}

// TestStaleSocket checks that a socket file left by a dead daemon is
// replaced, and that a live one is not.
func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iked.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, nil); err == nil {
		t.Fatal("Listen took over a socket that answers")
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("stale socket file not left behind:", err)
	}
	s, err := Listen(path, func(Request) Response { return Response{} })
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestCallNoDaemon(t *testing.T) {
	_, err := Call(filepath.Join(t.TempDir(), "none.sock"), Request{Command: CmdStatus}, time.Second)
	if err == nil {
		t.Fatal("Call to a missing socket succeeded")
	}
}

func TestOversizedRequest(t *testing.T) {
	s := startServer(t, func(Request) Response { return Response{} })
	c, err := net.Dial("unix", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		junk := []byte(strings.Repeat("a", 1<<16))
		for i := 0; i < (MaxMessage>>16)+2; i++ {
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	if !strings.Contains(string(buf[:n]), "too long") {
		t.Errorf("answer %q, want too long", buf[:n])
	}
}

// TestSocketDirChecked: an existing socket directory that group or others
// may write, or that belongs to another user, is refused; an existing
// 0755 directory of root's is fine.
func TestSocketDirChecked(t *testing.T) {
	h := func(Request) Response { return Response{} }
	for _, mode := range []os.FileMode{0o777, 0o770, 0o1777} {
		dir := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		s, err := Listen(filepath.Join(dir, "iked.sock"), h)
		if err == nil {
			s.Close()
			t.Errorf("directory mode %v accepted", mode)
			continue
		}
		if !strings.Contains(err.Error(), "group or others may replace the socket") {
			t.Errorf("directory mode %v: %v", mode, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Listen(filepath.Join(dir, "iked.sock"), h)
	if err != nil {
		t.Fatalf("0755: %v", err)
	}
	s.Close()
	if os.Geteuid() != 0 {
		t.Skip("giving the directory to another user needs root")
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if s, err := Listen(filepath.Join(dir, "iked.sock"), h); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		if s != nil {
			s.Close()
		}
		t.Errorf("directory of uid 65534: %v", err)
	}
}

// TestLargeResponse: an answer above MaxMessage (list-sas of a daemon
// holding many SAs) reaches the client whole.
func TestLargeResponse(t *testing.T) {
	n := MaxMessage/100 + 1000
	s := startServer(t, func(Request) Response {
		out := make([]SA, n)
		for i := range out {
			out[i] = SA{ICookie: strings.Repeat("0", 16), RCookie: strings.Repeat("1", 16), Conn: "clients", State: "established"}
		}
		return Response{SAs: out}
	})
	resp, err := Call(s.Path(), Request{Command: CmdListSAs}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != "" || len(resp.SAs) != n {
		t.Fatalf("got %d SAs, error %q; want %d", len(resp.SAs), resp.Error, n)
	}
}
