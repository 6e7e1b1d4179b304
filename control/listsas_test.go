package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"
)

// TestStreamedListSAs: the list-sas answer that the server writes a
// batch at a time is the line writeMessage writes for the whole
// Response; Call and CallEach read it back; a lister that fails before
// its first SA gives an error answer.
func TestStreamedListSAs(t *testing.T) {
	var batches [][]SA
	for i := range 3 {
		var b []SA
		for j := range 100 {
			b = append(b, SA{ICookie: fmt.Sprintf("%016x", i*100+j), Conn: "c<&>", Age: time.Duration(j) * time.Millisecond,
				Children: []ChildSA{{Conn: "c", Installed: time.Unix(int64(j), 0).UTC(), SAs: []IPsecSA{{Direction: "in"}}}}})
		}
		batches = append(batches, b)
	}
	detached := []ChildSA{{Conn: "old", Installed: time.Unix(1, 0).UTC()}}
	var fail error
	lister := SALister(func(_ Request, yield func([]SA) bool) ([]ChildSA, error) {
		if fail != nil {
			return nil, fail
		}
		for _, b := range batches {
			if !yield(b) {
				return nil, nil
			}
		}
		return detached, nil
	})
	s := startServer(t, func(Request) Response { return Response{Error: "not the lister"} })
	s.HandleListSAs(lister)
	want, err := json.Marshal(lister.Collect(Request{Command: CmdListSAs}))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := CallRaw(s.Path(), Request{Command: CmdListSAs}, time.Second, func(r *bufio.Reader) error {
		got, err = io.ReadAll(r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want)+"\n" {
		t.Errorf("streamed answer:\n got %.300s\nwant %.300s", got, want)
	}
	resp, err := Call(s.Path(), Request{Command: CmdListSAs}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if all := lister.Collect(Request{Command: CmdListSAs}); !reflect.DeepEqual(resp.SAs, all.SAs) || !reflect.DeepEqual(resp.Detached, all.Detached) {
		t.Errorf("Call: %d SAs, %d detached", len(resp.SAs), len(resp.Detached))
	}
	n := 0
	resp, err = CallEach(s.Path(), Request{Command: CmdListSAs}, time.Second, func(SA) error { n++; return nil })
	if err != nil || n != 300 || resp.SAs != nil || len(resp.Detached) != 1 {
		t.Errorf("CallEach: %d SAs passed, %d kept, %v", n, len(resp.SAs), err)
	}
	fail = errors.New("daemon is stopping")
	resp, err = Call(s.Path(), Request{Command: CmdListSAs}, time.Second)
	if err != nil || resp.Error != "daemon is stopping" {
		t.Errorf("failing lister: %+v %v", resp, err)
	}
}
