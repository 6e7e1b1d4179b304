package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// In-process tests of the wiring iked runs (stack.Build and Register,
// started by stack/stacktest): daemons with memory engines over
// daemontest's in-memory network, in virtual time.

// childOpts vary a node: the phase 1 mode, PSK and identity, the
// lifetimes, and goodbye with only the ISAKMP SA's Delete (as charon
// after a reauthentication moved the children to a new IKE_SA).
type childOpts struct {
	mode, psk, localID string
	lifetime           string
	kbytes             int
	isakmpOnly         bool
	// ikeLifetime, when set, is the ISAKMP SA's lifetime (the ike
	// transform's).
	ikeLifetime string
}

// side is the policy and the options of a node: it logs at the keys level
// (so that a test can look for the derived keys in the other lines), runs
// DPD (10 s delay, 30 s timeout), allows phase 2 lifetimes from 1 s, and
// has o's settings (phase 2 lifetime 1 h unless o says).
func (o childOpts) side(nw *stacktest.Net) (stacktest.Policy, stacktest.Options) {
	if o.lifetime == "" {
		o.lifetime = "1h"
	}
	p := stacktest.Policy{LogLevel: "keys", DPD: "{delay: 10s, timeout: 30s}", Phase2LifetimeMin: "1s",
		Mode: o.mode, PSK: o.psk, LocalID: o.localID, IKELifetime: o.ikeLifetime, Lifetime: o.lifetime, KBytes: o.kbytes}
	opt := stacktest.Options{Net: nw}
	if o.isakmpOnly {
		opt.Edit = func(s *stack.Stack) { s.Deleter = phase1.Deleter{Life: s.Life} }
	}
	return p, opt
}

// startChildNode starts one node with o's settings.
func startChildNode(t *testing.T, nw *stacktest.Net, local, remote, initiate string, o childOpts) *stacktest.Node {
	t.Helper()
	p, opt := o.side(nw)
	p.Local, p.Remote, p.Initiate = local, remote, initiate
	return stacktest.Start(t, p, opt)
}

// childPair starts B (never initiating), then A (initiate).
func childPair(t *testing.T, nw *stacktest.Net, initiate string, oa, ob childOpts) (a, b *stacktest.Node) {
	t.Helper()
	pa, xa := oa.side(nw)
	pb, xb := ob.side(nw)
	pa.Initiate = initiate
	return stacktest.Pair(t, pa, xa, pb, xb)
}

// upPair is childPair with A initiating at once; it waits until both
// engines hold the bundle of the first Quick Mode.
func upPair(t *testing.T, nw *stacktest.Net, oa, ob childOpts) (a, b *stacktest.Node) {
	t.Helper()
	a, b = childPair(t, nw, "start", oa, ob)
	a.WaitSAs(t, 2, 30*time.Second)
	b.WaitSAs(t, 2, time.Second)
	return a, b
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
