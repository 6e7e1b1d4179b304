package main

import (
	"bytes"
	"encoding/json"
	"flag"
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
				Exchanges: []control.Exchange{{MessageID: 0, Type: "Identity Protection", State: "mm1-sent", Retransmits: 2, AwaitingReply: true}}},
				{ICookie: "1112131415161718", RCookie: "2122232425262728", Conn: "branch", Role: "responder",
					Local: "192.0.2.1:500", Remote: "192.0.2.3:500", State: "established", Children: []control.ChildSA{child("branch", 0xc0ffee01)}},
			}, Detached: []control.ChildSA{child("old", 0xdead0001)}}
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

// child is a bundle as the daemon reports it: ESP in tunnel mode, 10
// minutes into a 1 h lifetime.
func child(conn string, mid uint32) control.ChildSA {
	rekey, expire := 44*time.Minute, 50*time.Minute
	n := uint64(4242)
	return control.ChildSA{Conn: conn, MessageID: mid, ReqID: 1, Role: "responder", State: "installed", Mode: "tunnel",
		PFS: "2048-bit MODP group", Local: "192.0.2.1", Remote: "192.0.2.3", LocalTS: "198.51.100.0/24", RemoteTS: "203.0.113.0/24[tcp/80]",
		LifeSeconds: 3600, RekeySeconds: 3240, Age: 10 * time.Minute, RekeyIn: &rekey, ExpiresIn: &expire,
		SAs: []control.IPsecSA{
			{Direction: "in", Protocol: "esp", SPI: "0xc1000001", Src: "192.0.2.3", Dst: "192.0.2.1",
				Encryption: "ESP_AES/128 cbc(aes)", Integrity: "HMAC-SHA2-256 hmac(sha256)/128", Bytes: &n},
			{Direction: "out", Protocol: "esp", SPI: "0xc2000002", Src: "192.0.2.1", Dst: "192.0.2.3",
				Encryption: "ESP_AES/128 cbc(aes)", Integrity: "HMAC-SHA2-256 hmac(sha256)/128"},
		}}
}

func TestTables(t *testing.T) {
	sock := serve(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"status"}, []string{"version test", "uptime 1m30s", "datagrams 7", "listening 0.0.0.0:500"}},
		{[]string{"list-sas"}, []string{"-: HALF-OPEN, initiator, 0102030405060708:0000000000000000\nlocal 192.0.2.1:500\nremote 192.0.2.2:500",
			"exchange Identity Protection/0x00000000: mm1-sent (retransmits 2)",
			"branch: ESTABLISHED, responder, 1112131415161718:2122232425262728",
			"branch: #c0ffee01, reqid 1, INSTALLED, TUNNEL, ESP:ESP_AES/128/HMAC-SHA2-256, PFS 2048-bit MODP group (responder)",
			"installed 10m0s ago, rekeying in 44m0s, expires in 50m0s (lifetime 3600s)",
			"in esp 0xc1000001 192.0.2.3 -> 192.0.2.1 4242 bytes ESP_AES/128 cbc(aes) HMAC-SHA2-256 hmac(sha256)/128",
			"out esp 0xc2000002 192.0.2.1 -> 192.0.2.3 - ESP_AES/128",
			"local 198.51.100.0/24\nremote 203.0.113.0/24[tcp/80]",
			"IPsec SAs without an ISAKMP SA (the peer deleted it):\nold: #dead0001"}},
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
	if code := run([]string{"-socket", sock, "list-sas", "branch"}, &out, &errb); code != 0 {
		t.Errorf("list-sas with a name: exit %d", code)
	}
	if code := run([]string{"-socket", sock, "status", "branch"}, &out, &errb); code != 2 {
		t.Errorf("status with a name: exit %d", code)
	}
	if code := run([]string{"-socket", filepath.Join(t.TempDir(), "none"), "status"}, &out, &errb); code != 1 {
		t.Errorf("no daemon: exit %d", code)
	}
}

// TestFlagsAnywhere: flags before, between and after the words, with one
// dash or two; "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	sock := serve(t)
	for _, args := range [][]string{
		{"-socket", sock, "-json", "stats"},
		{"stats", "--json", "--socket", sock},
		{"--socket=" + sock, "stats", "-json"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errb.String())
		}
		var resp control.Response
		if err := json.Unmarshal(out.Bytes(), &resp); err != nil || resp.Stats == nil {
			t.Errorf("%q: not the JSON answer: %v\n%s", args, err, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-socket", sock, "initiate", "x", "-json"}, &out, &errb); code != 1 || !strings.Contains(out.String(), `"error": "no connection x"`) {
		t.Errorf("flag after the name: exit %d, %q", code, out.String())
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Bool("json", false, "")
	words, err := parseInterleaved(fs, []string{"terminate", "--", "-json"})
	if err != nil || len(words) != 2 || words[1] != "-json" {
		t.Errorf("after --: %q %v", words, err)
	}
	if code := run([]string{"stats", "-nosuchflag"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag after the command: exit %d", code)
	}
}

func TestEventLine(t *testing.T) {
	e := control.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local), Kind: "message", Level: "notice", Catalog: 46,
		Text: "Phase-1 [initiator] between 192.0.2.1 and 192.0.2.2 failed; AUTHENTICATION-FAILED", Fields: map[string]string{"cookies": "ab", "conn": "x"}}
	want := "03:04:05 message    [46] notice: Phase-1 [initiator] between 192.0.2.1 and 192.0.2.2 failed; AUTHENTICATION-FAILED conn=x cookies=ab"
	if got := eventLine(e); got != want {
		t.Errorf("eventLine:\n got %q\nwant %q", got, want)
	}
}
