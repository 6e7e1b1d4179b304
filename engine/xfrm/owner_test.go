//go:build linux

package xfrm

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

func TestReqIDRange(t *testing.T) {
	for _, r := range []uint32{0, 1, 77, maxReqID} {
		k, err := kernelReqID(r)
		if err != nil {
			t.Fatal(err)
		}
		back, ours := engineReqID(k)
		if !ours || back != r {
			t.Errorf("reqid %d -> kernel %d -> %d %v", r, k, back, ours)
		}
	}
	if _, err := kernelReqID(maxReqID + 1); err == nil {
		t.Error("reqid above the range accepted")
	}
	for _, k := range []uint32{0, 1, 16384, ReqIDBase - 1, reqIDLimit, 0xffffffff} {
		if _, ours := engineReqID(k); ours {
			t.Errorf("kernel reqid %d taken for ours", k)
		}
	}
}

// foreignState is what another daemon keeps in the namespace: a policy with
// reqid 1 (as strongSwan numbers them) on its own selector and, where the
// kernel has ESP, an SA.
func foreignState(t *testing.T, ns string) {
	t.Helper()
	run(t, "ip", "-n", ns, "xfrm", "policy", "add", "src", "198.51.100.64/26", "dst", "203.0.113.64/26", "dir", "out",
		"tmpl", "src", "192.0.2.1", "dst", "192.0.2.3", "proto", "esp", "reqid", "1", "mode", "tunnel")
	if kernelIPsec() {
		run(t, "ip", "-n", ns, "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.3", "proto", "esp", "spi", "0x4242",
			"reqid", "1", "mode", "tunnel", "enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff",
			"auth-trunc", "hmac(sha256)", "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "128")
	}
}

// TestLeftoversReplaced: an iked killed without cleaning up leaves its
// policies, SPI reservations and (with ESP) SAs; the next Open removes
// exactly those, so that installing the same policies again works, and
// another daemon's policy and SA stay.
func TestLeftoversReplaced(t *testing.T) {
	ns, h := testNS(t)
	foreignState(t, ns)
	foreign := run(t, "ip", "-n", ns, "xfrm", "policy") + run(t, "ip", "-n", ns, "xfrm", "state")

	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/26"), Remote: netip.MustParsePrefix("203.0.113.0/26")}
	ps := engine.PoliciesFor(sel, engine.ModeTunnel, gw1, gw2, []engine.Protocol{engine.ProtoESP}, 3)
	b1 := New(Options{Namespace: h})
	if err := b1.Open(); err != nil {
		t.Fatal(err)
	}
	if err := b1.InstallPolicies(ps); err != nil {
		t.Fatal(err)
	}
	spi, err := b1.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, ReqID: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantSAs := 1
	if kernelIPsec() {
		bd := &engine.Bundle{ID: 1, ReqID: 3, Mode: engine.ModeTunnel, Local: gw1, Remote: gw2,
			Inbound: []engine.SA{espSA(spi, 1)}, Outbound: []engine.SA{espSA(0x7777, 2)}}
		if err := b1.Install(bd); err != nil {
			t.Fatal(err)
		}
		wantSAs = 2
	}
	b1.Close() // killed: no Flush

	b2 := openIn(t, h)
	left := b2.Leftovers()
	t.Logf("removed: %q %q", left.Policies, left.SAs)
	if len(left.Policies) != len(ps) || len(left.SAs) != wantSAs {
		t.Errorf("removed %d policies and %d SAs, want %d and %d", len(left.Policies), len(left.SAs), len(ps), wantSAs)
	}
	if now := run(t, "ip", "-n", ns, "xfrm", "policy") + run(t, "ip", "-n", ns, "xfrm", "state"); now != foreign {
		t.Fatalf("after Open:\n%s\nwant only the other daemon's:\n%s", now, foreign)
	}
	if err := b2.InstallPolicies(ps); err != nil {
		t.Fatalf("the same policies again: %v", err)
	}
	if err := b2.Flush(); err != nil {
		t.Fatal(err)
	}
	if now := run(t, "ip", "-n", ns, "xfrm", "policy") + run(t, "ip", "-n", ns, "xfrm", "state"); now != foreign {
		t.Fatalf("after Flush:\n%s\nwant only the other daemon's:\n%s", now, foreign)
	}
}

// TestForeignPolicyConflict: a policy of another daemon on our selector is
// not replaced: the install fails with EEXIST and the policy stays.
func TestForeignPolicyConflict(t *testing.T) {
	ns, h := testNS(t)
	foreignState(t, ns)
	before := run(t, "ip", "-n", ns, "xfrm", "policy")
	b := openIn(t, h)
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.64/26"), Remote: netip.MustParsePrefix("203.0.113.64/26")}
	ps := engine.PoliciesFor(sel, engine.ModeTunnel, gw1, gw2, []engine.Protocol{engine.ProtoESP}, 3)
	err := b.InstallPolicies(ps[:1])
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "already installed") {
		t.Fatalf("install over another daemon's policy: %v", err)
	}
	if len(b.Leftovers().Policies) != 0 {
		t.Errorf("Open removed %q", b.Leftovers().Policies)
	}
	if after := run(t, "ip", "-n", ns, "xfrm", "policy"); after != before {
		t.Fatalf("policies changed:\n%s\nwas\n%s", after, before)
	}
}
