package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// pairPolicy is one side of a tunnel between two ikeds on loopback, from
// gateway gw to peer: the connection "good" (local to remote) shares the
// PSK with the peer, "bad" (badLocal to badRemote) has badPSK.
func pairPolicy(local, remote, gw, peer, badLocal, badRemote, badPSK string) string {
	conn := func(name, l, r, psk string) string {
		return fmt.Sprintf("  %s:\n    local-address: %s\n    remote-address: %s\n    local-gw: %s\n    remote-gw: %s\n"+
			"    initiate: never\n    ike: {transforms: [ike], psk: %q}\n    proposal-list: l\n", name, l, r, gw, peer, psk)
	}
	return `transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals: {p: [esp]}
proposal-lists: {l: [p]}
connections:
` + conn("good", local, remote, "correct horse battery") + conn("bad", badLocal, badRemote, badPSK)
}

// TestLiveMonitor: `ikectl monitor -json` against a running iked streams
// the ISAKMP and IPsec SAs it negotiates with a second iked coming up,
// the ISAKMP SA going down on terminate, and a failed negotiation (wrong
// PSK) as catalog message 46 with its number; it ends on SIGINT with
// status 0.
func TestLiveMonitor(t *testing.T) {
	a1, a2 := "127.0.0.1", "127.0.0.2"
	port := freeUDPPort(t, a1)
	retransmit := "  retransmit: {timeout: 200ms, tries: 2}\n"
	a := startIked(t, a1, port, retransmit+pairPolicy("198.51.100.0/24", "203.0.113.0/24", a1, a2,
		"198.51.100.64/26", "203.0.113.64/26", "not the peer's key"))
	startIked(t, a2, port, retransmit+pairPolicy("203.0.113.0/24", "198.51.100.0/24", a2, a1,
		"203.0.113.64/26", "198.51.100.64/26", "the peer's key"))

	mon := exec.Command(filepath.Join(filepath.Dir(ikedBinary(t)), "ikectl"), "monitor", "-json", "-socket", a.sock)
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	mon.Stderr = &stderr
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	events := make(chan control.Event, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e control.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("monitor line %q: %v", sc.Text(), err)
				continue
			}
			events <- e
		}
		io.Copy(io.Discard, out)
		close(events)
	}()
	t.Cleanup(func() {
		if mon.ProcessState == nil {
			mon.Process.Kill()
			mon.Wait()
		}
	})
	wait := func(what string, match func(control.Event) bool) control.Event {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatalf("monitor ended before %s: %s\niked:\n%s", what, stderr.String(), a.log.String())
				}
				if match(e) {
					return e
				}
			case <-deadline:
				t.Fatalf("no %s event; iked:\n%s", what, a.log.String())
			}
		}
	}

	// The first event says the stream is in place.
	if start := wait("start", func(control.Event) bool { return true }); start.Kind != "start" {
		t.Fatalf("first event %+v", start)
	}
	if code, _, errs := ikectl("-socket", a.sock, "initiate", "good"); code != 0 {
		t.Fatalf("initiate good: %s", errs)
	}
	up := wait("sa-up", func(e control.Event) bool { return e.Kind == "sa-up" })
	if up.Fields["conn"] != "good" || up.Text != "ISAKMP SA established" || up.Time.IsZero() {
		t.Errorf("sa-up event %+v", up)
	}
	ipsec := wait("ipsec-up", func(e control.Event) bool { return e.Kind == "ipsec-up" })
	if ipsec.Fields["conn"] != "good" {
		t.Errorf("ipsec-up event %+v", ipsec)
	}

	if code, _, errs := ikectl("-socket", a.sock, "terminate", "good"); code != 0 {
		t.Fatalf("terminate good: %s", errs)
	}
	down := wait("sa-down", func(e control.Event) bool { return e.Kind == "sa-down" })
	if down.Fields["conn"] != "good" || down.Fields["reason"] == "" {
		t.Errorf("sa-down event %+v", down)
	}

	if code, _, errs := ikectl("-socket", a.sock, "initiate", "bad"); code != 0 {
		t.Fatalf("initiate bad: %s", errs)
	}
	fail := wait("message 46", func(e control.Event) bool { return e.Catalog == 46 })
	if fail.Kind != "message" || fail.Level != "notice" || !strings.HasPrefix(fail.Text, "Phase-1 [initiator] between ") {
		t.Errorf("failure event %+v", fail)
	}

	if err := mon.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := mon.Wait(); err != nil {
		t.Errorf("monitor after SIGINT: %v: %s", err, stderr.String())
	}
}
