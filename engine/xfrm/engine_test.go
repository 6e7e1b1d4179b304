//go:build linux

package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/notify"
)

// TestEngineOverXFRM runs the daemon's sequence through engine.Engine on
// the kernel: attach (message 2), SPI, a bundle the kernel refuses (on
// this kernel), detach (message 3), and nothing left in the namespace.
func TestEngineOverXFRM(t *testing.T) {
	ns, h := testNS(t)
	var mu sync.Mutex
	var nums []int
	e := engine.New(New(Options{Namespace: h}), engine.Config{Report: func(m notify.Message) {
		mu.Lock()
		nums = append(nums, m.Num)
		mu.Unlock()
	}})
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	next := func() engine.Event {
		select {
		case ev := <-e.Events():
			return ev
		case <-time.After(30 * time.Second): // a guard: an emulated kernel loads its crypto modules slowly
			t.Fatal("no event")
		}
		return engine.Event{}
	}
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	e.Submit(&engine.Attach{Token: 1, Policies: engine.PoliciesFor(sel, engine.ModeTunnel, gw1, gw2, []engine.Protocol{engine.ProtoESP}, 2)})
	if ev := next(); ev.Kind != engine.EventAttached {
		t.Fatalf("attach: %v", ev)
	}
	e.Submit(&engine.AllocSPI{Token: 2, Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, ReqID: 2})
	ev := next()
	if ev.Kind != engine.EventSPIAllocated {
		t.Fatalf("alloc: %v", ev)
	}
	e.Submit(&engine.Install{Token: 3, Bundle: &engine.Bundle{ID: 77, ReqID: 2, Mode: engine.ModeTunnel, Local: gw1, Remote: gw2,
		Inbound: []engine.SA{espSA(ev.SPI, 1)}, Outbound: []engine.SA{espSA(0x7000, 2)}}})
	ev = next()
	switch {
	case ev.Kind == engine.EventInstallFailed && errors.Is(ev.Err, unix.EPROTONOSUPPORT):
		refusedOK(t, ev.Err)
		t.Logf("as expected on a kernel without ESP: %v", ev)
	case ev.Kind == engine.EventInstalled:
		t.Logf("this kernel has ESP: %v", ev)
	default:
		t.Fatalf("install: %v", ev)
	}
	if ev.BundleID != 77 || ev.Token != 3 {
		t.Fatalf("install event names bundle %d token %d", ev.BundleID, ev.Token)
	}
	e.Submit(&engine.Detach{Token: 4})
	if ev := next(); ev.Kind != engine.EventDetached || ev.Err != nil {
		t.Fatalf("detach: %v", ev)
	}
	mu.Lock()
	if fmt.Sprint(nums) != "[2 3]" {
		t.Errorf("messages %v, want [2 3]", nums)
	}
	mu.Unlock()
	if out := run(t, "ip", "-n", ns, "xfrm", "policy") + run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
		t.Fatalf("left after detach:\n%s", out)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-e.Events(); ok {
		// Drain anything the monitor still had; the channel must close.
		for range e.Events() {
		}
	}
}

// TestOpenFailure: a namespace that cannot be entered is message 4.
func TestOpenFailure(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	e := engine.New(New(Options{Namespace: netns.NsHandle(987654)}), engine.Config{})
	err := e.Open()
	var m notify.Message
	if !errors.As(err, &m) || m.Num != 4 || !strings.HasPrefix(err.Error(), "Can not open connection with the packet processing engine.Check") {
		t.Fatalf("open: %v", err)
	}
	t.Log(err)
	e.Close()
}
