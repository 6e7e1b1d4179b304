package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// In-process tests of the wiring iked runs (stack.Build and Register,
// started by stack/stacktest): daemons with memory engines over
// daemontest's in-memory network, in virtual time.

// startLifeNode starts a daemon whose connection link runs DPD (10 s
// delay, 30 s timeout).
func startLifeNode(t *testing.T, nw *daemontest.Net, local, remote, initiate string) *stacktest.Node {
	t.Helper()
	return stacktest.Start(t, stacktest.Policy{Local: local, Remote: remote, Initiate: initiate,
		DPD: "{delay: 10s, timeout: 30s}"}, stacktest.Options{Net: nw})
}

// childOpts vary a node: the phase 2 lifetimes, and goodbye sends only the
// ISAKMP SA's Delete (as charon after a reauthentication moved the
// children to a new IKE_SA).
type childOpts struct {
	lifetime   string
	kbytes     int
	isakmpOnly bool
	// ikeLifetime, when set, is the ISAKMP SA's lifetime (the ike
	// transform's).
	ikeLifetime string
}

// startChildNode starts a daemon that logs at the keys level, with DPD,
// the phase 2 lifetimes of o and a minimum phase 2 lifetime of 1 s.
func startChildNode(t *testing.T, nw *daemontest.Net, local, remote, initiate string, o childOpts) *stacktest.Node {
	t.Helper()
	if o.lifetime == "" {
		o.lifetime = "1h"
	}
	p := stacktest.Policy{Local: local, Remote: remote, Initiate: initiate, LogLevel: "keys",
		DPD: "{delay: 10s, timeout: 30s}", Phase2LifetimeMin: "1s", IKELifetime: o.ikeLifetime,
		Lifetime: o.lifetime, KBytes: o.kbytes}
	opt := stacktest.Options{Net: nw}
	if o.isakmpOnly {
		opt.Edit = func(s *stack.Stack) { s.Deleter = s.Info }
	}
	return stacktest.Start(t, p, opt)
}

type logOpts struct {
	mode, psk, localID string
}

// startLogNode starts a daemon that logs at the keys level (so that a
// test can look for the derived keys in the other lines), with the mode,
// identities and PSK of o and an ISAKMP SA lifetime of 3 h.
func startLogNode(t *testing.T, nw *daemontest.Net, local, remote, initiate string, o logOpts) *stacktest.Node {
	t.Helper()
	return stacktest.Start(t, stacktest.Policy{Local: local, Remote: remote, Initiate: initiate, LogLevel: "keys",
		Mode: o.mode, PSK: o.psk, LocalID: o.localID, IKELifetime: "3h"}, stacktest.Options{Net: nw})
}

// spis returns the SPIs the engine holds, inbound and outbound, as
// list-sas prints them.
func spis(n *stacktest.Node) (in, out map[string]bool) {
	in, out = map[string]bool{}, map[string]bool{}
	for _, r := range n.Engine.SAs() {
		s := fmt.Sprintf("0x%08x", r.Ref.SPI)
		if r.Inbound {
			in[s] = true
		} else {
			out[s] = true
		}
	}
	return in, out
}

// checkListed: every IPsec SA the engine holds is in children, in its
// direction, and nothing else is.
func checkListed(t *testing.T, n *stacktest.Node, children []control.ChildSA) {
	t.Helper()
	in, out := spis(n)
	listed := 0
	for _, ch := range children {
		for _, s := range ch.SAs {
			listed++
			if (s.Direction == "in" && !in[s.SPI]) || (s.Direction == "out" && !out[s.SPI]) {
				t.Errorf("list-sas shows %s SA %s that the engine does not hold (in %v out %v)", s.Direction, s.SPI, in, out)
			}
		}
	}
	if listed != len(in)+len(out) {
		t.Errorf("list-sas shows %d IPsec SAs, the engine holds %d", listed, len(in)+len(out))
	}
}

// hexKeys returns the hex values the node logged at the keys level.
func hexKeys(t *testing.T, n *stacktest.Node) []string {
	var out []string
	for _, r := range n.Records(t, "ISAKMP SA keys", 0) {
		for k, v := range r {
			if s, ok := v.(string); ok && k != "cookies" && len(s) >= 16 && strings.Trim(s, "0123456789abcdef") == "" {
				out = append(out, s)
			}
		}
	}
	return out
}
