package daemon_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/stack/stacktest"
)

// runs reads the files the recording script left, one per run (renamed
// into place once written): a map of its IKED_ variables per run, in
// order.
func runs(t *testing.T, dir string) []map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "run-*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var out []map[string]string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// spiOf returns the SPI of the one SA of n's engine in the direction
// asked, as the script sees it.
func spiOf(t *testing.T, n *stacktest.Node, inbound bool) (string, engine.SARef) {
	t.Helper()
	for _, r := range n.Engine.SAs() {
		if r.Inbound == inbound {
			return fmt.Sprintf("0x%08x", r.Ref.SPI), r.Ref
		}
	}
	t.Fatalf("no SA (inbound %v) in %+v", inbound, n.Engine.SAs())
	return "", engine.SARef{}
}

// TestUpdown: a connection's updown script (a real shell script that
// records its environment) runs with verb up when Quick Mode installs the
// IPsec SAs, rekey when a soft lifetime replaces them, down on terminate,
// each with the facts of the bundle; its output and exit status are
// logged. The peer's script hangs: it is killed with its children at the
// connection's updown-timeout, and that is logged.
func TestUpdown(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback end to end in -short mode")
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "runs")
	if err := os.Mkdir(record, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "updown.sh")
	if err := os.WriteFile(script, []byte(`#!/bin/sh
f=$(mktemp -p `+record+`)
{ echo "ARG=$1"; env | grep '^IKED_' | sort; } > "$f"
mv "$f" `+record+`/run-$(date +%s%N)
echo "hello $IKED_VERB"
[ "$IKED_VERB" = down ] && exit 7
exit 0
`), 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "hang.pid")
	hang := filepath.Join(dir, "hang.sh")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nsleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	port := 20000 + rand.IntN(20000)
	a := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.1", Remote: "127.0.0.2", IKEPort: port, KBytes: 1000,
		Phase2LifetimeMin: "1s", Updown: script}, stacktest.Options{})
	b := stacktest.Start(t, stacktest.Policy{Local: "127.0.0.2", Remote: "127.0.0.1", IKEPort: port, KBytes: 1000,
		Phase2LifetimeMin: "1s", Updown: hang, UpdownTimeout: "500ms"}, stacktest.Options{})

	a.Ctl(t, control.CmdInitiate, "link")
	a.WaitSAs(t, 2, 10*time.Second)
	var rs []map[string]string
	stacktest.Wait(t, 10*time.Second, "the up script", func() bool { rs = runs(t, record); return len(rs) == 1 }, a, b)
	up := rs[0]
	in, _ := spiOf(t, a, true)
	out, outRef := spiOf(t, a, false)
	for k, v := range map[string]string{
		"ARG": "up", "IKED_VERB": "up", "IKED_CONNECTION": "link", "IKED_ROLE": "initiator",
		"IKED_LOCAL_GW": "127.0.0.1", "IKED_PEER_GW": "127.0.0.2",
		"IKED_LOCAL_SELECTOR": "127.0.0.1", "IKED_REMOTE_SELECTOR": "127.0.0.2",
		"IKED_PROTOCOL": "esp", "IKED_SPI_IN": in, "IKED_SPI_OUT": out, "IKED_REQID": "1", "IKED_NAT": "no",
		"IKED_SPIS": "ESP in " + in + " out " + out,
	} {
		if up[k] != v {
			t.Errorf("up: %s=%q, want %q", k, up[k], v)
		}
	}
	for _, k := range []string{"IKED_LOCAL_ID", "IKED_PEER_ID"} {
		if !strings.Contains(up[k], "127.0.0.") {
			t.Errorf("up: %s=%q", k, up[k])
		}
	}
	if _, ok := up["IKED_VIRTUAL_IP"]; ok {
		t.Errorf("up: a virtual IP without mode config: %q", up["IKED_VIRTUAL_IP"])
	}

	// The soft volume limit (950 of 1,000 KB) starts the rekey.
	if err := a.Engine.Account(outRef, 960*1024); err != nil {
		t.Fatal(err)
	}
	stacktest.Wait(t, 10*time.Second, "the rekey script", func() bool { rs = runs(t, record); return len(rs) == 2 }, a, b)
	rk := rs[1]
	a.WaitSAs(t, 2, 5*time.Second)
	in2, _ := spiOf(t, a, true)
	out2, _ := spiOf(t, a, false)
	if rk["IKED_VERB"] != "rekey" || rk["IKED_OLD_SPIS"] != up["IKED_SPIS"] || rk["IKED_SPI_IN"] != in2 ||
		rk["IKED_SPI_OUT"] != out2 || in2 == in || rk["IKED_CONNECTION"] != "link" {
		t.Errorf("rekey run %v (new SPIs in %s out %s)", rk, in2, out2)
	}

	a.Ctl(t, control.CmdTerminate, "link")
	stacktest.Wait(t, 10*time.Second, "the down script", func() bool { rs = runs(t, record); return len(rs) >= 3 }, a, b)
	time.Sleep(200 * time.Millisecond)
	if rs = runs(t, record); len(rs) != 3 {
		t.Fatalf("%d runs, want up, rekey, down: %v", len(rs), rs)
	}
	down := rs[2]
	if down["IKED_VERB"] != "down" || down["IKED_SPIS"] != rk["IKED_SPIS"] || down["IKED_PEER_GW"] != "127.0.0.2" ||
		down["IKED_REASON"] != "deleted" {
		t.Errorf("down run %v", down)
	}

	ran := a.WaitRecord(t, "updown script ran", 0, 5*time.Second)
	if len(ran) != 2 || ran[0]["output"] != "hello up\n" || ran[0]["status"] != float64(0) || ran[1]["verb"] != "rekey" {
		t.Errorf("runs logged: %v", ran)
	}
	failed := a.WaitRecord(t, "updown script failed", 0, 5*time.Second)
	if len(failed) != 1 || failed[0]["status"] != float64(7) || failed[0]["output"] != "hello down\n" {
		t.Errorf("failure logged: %v", failed)
	}

	// The peer's hanging script, killed at 500 ms, with its sleep.
	// The responder's runs, one at a time, tell the rekey too: a new
	// bundle of the same connection, peer and selectors.
	var killed []map[string]any
	stacktest.Wait(t, 10*time.Second, "three runs killed", func() bool {
		killed = b.Records(t, "updown script killed at its timeout", 0)
		return len(killed) == 3
	}, b)
	for i, verb := range []string{"up", "rekey", "down"} {
		if killed[i]["verb"] != verb || killed[i]["conn"] != "link" {
			t.Errorf("kill %d logged: %v", i, killed[i])
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	stacktest.Wait(t, 5*time.Second, "the hanging script gone", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}, b)
}
