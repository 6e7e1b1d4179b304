package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

func serve(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "iked.sock")
	s, err := control.Listen(path, func(r control.Request) control.Response {
		switch r.Command {
		case control.CmdStatus:
			return control.Response{Status: &control.Status{Version: "test", Uptime: 90 * time.Second, Engine: "none",
				Listening: []string{"0.0.0.0:500"}, Counters: []control.Counter{{Name: "datagrams", Value: 7}}}}
		case control.CmdListSAs:
			return control.Response{SAs: []control.SA{{ICookie: "0102030405060708", RCookie: "0000000000000000", Role: "initiator",
				Local: "192.0.2.1:500", Remote: "192.0.2.2:500", State: "half-open",
				Exchanges: []control.Exchange{{MessageID: 0, Type: "Identity Protection", State: "mm1-sent", Retransmits: 2, AwaitingReply: true}}}}}
		case control.CmdListConns:
			return control.Response{Conns: []control.Conn{{Name: "branch", LocalAddress: "198.51.100.0/24", RemoteAddress: "203.0.113.0/24", Mode: "main"}}}
		case control.CmdStats:
			return control.Response{Stats: &control.Stats{Dropped: []control.Counter{{Name: "short", Value: 3}}}}
		case control.CmdInitiate:
			return control.Response{Error: "no connection " + r.Name}
		}
		return control.Response{}
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return path
}

func TestTables(t *testing.T) {
	sock := serve(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"status"}, []string{"version test", "uptime 1m30s", "datagrams 7", "listening 0.0.0.0:500"}},
		{[]string{"list-sas"}, []string{"COOKIES CONN ROLE", "0102030405060708:0000000000000000 - initiator 192.0.2.1:500 192.0.2.2:500 half-open",
			"Identity Protection/0x00000000:mm1-sent(retransmits 2)"}},
		{[]string{"list-conns"}, []string{"NAME LOCAL REMOTE", "branch 198.51.100.0/24 203.0.113.0/24 - - main"}},
		{[]string{"stats"}, []string{"dropped short 3"}},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"-socket", sock}, tc.args...), &out, &errb); code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errb.String())
		}
		// Columns are aligned with spaces; compare with single spaces.
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		flat := strings.Join(lines, "\n")
		for _, w := range tc.want {
			if !strings.Contains(flat, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
}

func TestJSONAndErrors(t *testing.T) {
	sock := serve(t)
	var out, errb bytes.Buffer
	if code := run([]string{"-socket", sock, "-json", "stats"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var resp control.Response
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.Stats == nil {
		t.Fatalf("-json output %q: %v", out.String(), err)
	}
	if v, _ := control.Get(resp.Stats.Dropped, "short"); v != 3 {
		t.Errorf("short = %d", v)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-socket", sock, "initiate", "x"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no connection x") {
		t.Errorf("daemon error: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"-socket", sock, "reboot"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run([]string{"-socket", sock, "initiate"}, &out, &errb); code != 2 {
		t.Errorf("initiate without a name: exit %d", code)
	}
	if code := run([]string{"-socket", filepath.Join(t.TempDir(), "none"), "status"}, &out, &errb); code != 1 {
		t.Errorf("no daemon: exit %d", code)
	}
}
