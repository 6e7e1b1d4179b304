package control

import (
	"path/filepath"
	"testing"
	"time"
)

// TestMonitorStream: the server acknowledges monitor, streams events
// until the client leaves (the handler sees stop closed), and a server
// without an event stream answers with an error.
func TestMonitorStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	s, err := Listen(path, func(Request) Response { return Response{} })
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	s.HandleMonitor(func(stop <-chan struct{}, send func(Event) error) {
		for i := 1; i <= 3; i++ {
			if send(Event{Kind: "message", Catalog: 45 + i, Text: "x"}) != nil {
				t.Error("send failed")
			}
		}
		<-stop
		close(stopped)
	})
	go s.Serve()
	defer s.Close()

	done := make(chan struct{})
	var got []int
	err = Monitor(path, time.Second, done, func(e Event) error {
		got = append(got, e.Catalog)
		if len(got) == 3 {
			close(done)
		}
		return nil
	})
	if err != nil || len(got) != 3 || got[0] != 46 || got[2] != 48 {
		t.Fatalf("Monitor: %v, events %v", err, got)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never saw the client leave")
	}

	path2 := filepath.Join(t.TempDir(), "s2")
	s2, err := Listen(path2, func(Request) Response { return Response{} })
	if err != nil {
		t.Fatal(err)
	}
	go s2.Serve()
	defer s2.Close()
	if err := Monitor(path2, time.Second, nil, func(Event) error { return nil }); err == nil {
		t.Error("a server without an event stream: no error")
	}
}
