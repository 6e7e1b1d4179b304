//go:build linux

package xfrm

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

func TestPoliciesInstallRemove(t *testing.T) {
	tests := []struct {
		name   string
		sel    engine.Selector
		mode   engine.Mode
		gwL    string
		gwR    string
		protos []engine.Protocol
		want   []string // lines `ip xfrm policy` must print
	}{
		{
			name: "ipv4 tunnel",
			sel:  engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")},
			mode: engine.ModeTunnel, gwL: "192.0.2.1", gwR: "192.0.2.2",
			protos: []engine.Protocol{engine.ProtoESP},
			want: []string{
				"src 198.51.100.0/24 dst 203.0.113.0/24 \n\tdir out priority 2808 ptype main \n\ttmpl src 192.0.2.1 dst 192.0.2.2\n\t\tproto esp reqid 1761607687 mode tunnel",
				"src 203.0.113.0/24 dst 198.51.100.0/24 \n\tdir in priority 2808 ptype main \n\ttmpl src 192.0.2.2 dst 192.0.2.1\n\t\tproto esp reqid 1761607687 mode tunnel",
				"src 203.0.113.0/24 dst 198.51.100.0/24 \n\tdir fwd priority 2808 ptype main \n\ttmpl src 192.0.2.2 dst 192.0.2.1\n\t\tproto esp reqid 1761607687 mode tunnel",
			},
		},
		{
			name:   "ipv4 transport udp port",
			sel:    engine.Selector{Local: netip.MustParsePrefix("192.0.2.1/32"), Remote: netip.MustParsePrefix("192.0.2.2/32"), Protocol: 17, RemotePort: 53},
			mode:   engine.ModeTransport,
			protos: []engine.Protocol{engine.ProtoESP, engine.ProtoIPComp},
			want: []string{
				"src 192.0.2.1/32 dst 192.0.2.2/32 proto udp dport 53 \n\tdir out priority 2741 ptype main \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto comp reqid 1761607687 mode transport\n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 1761607687 mode transport",
				"src 192.0.2.2/32 dst 192.0.2.1/32 proto udp sport 53 \n\tdir in priority 2741 ptype main \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto comp reqid 1761607687 mode transport\n\t\tlevel use \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 1761607687 mode transport",
			},
		},
		{
			name: "ipv6 tunnel",
			sel:  engine.Selector{Local: netip.MustParsePrefix("2001:db8:1::/48"), Remote: netip.MustParsePrefix("2001:db8:2::/48")},
			mode: engine.ModeTunnel, gwL: "2001:db8::1", gwR: "2001:db8::2",
			protos: []engine.Protocol{engine.ProtoAH, engine.ProtoESP},
			want: []string{
				"src 2001:db8:1::/48 dst 2001:db8:2::/48 \n\tdir out priority 2616 ptype main \n\ttmpl src 2001:db8::1 dst 2001:db8::2\n\t\tproto esp reqid 1761607687 mode tunnel\n\ttmpl src :: dst ::\n\t\tproto ah reqid 1761607687 mode transport",
				"src 2001:db8:2::/48 dst 2001:db8:1::/48 \n\tdir fwd priority 2616 ptype main \n\ttmpl src 2001:db8::2 dst 2001:db8::1\n\t\tproto esp reqid 1761607687 mode tunnel",
			},
		},
		{
			name:   "ipv6 transport any",
			sel:    engine.Selector{Local: netip.MustParsePrefix("2001:db8::1/128"), Remote: netip.MustParsePrefix("2001:db8::2/128")},
			mode:   engine.ModeTransport,
			protos: []engine.Protocol{engine.ProtoESP},
			want: []string{
				"src 2001:db8::1/128 dst 2001:db8::2/128 \n\tdir out priority 1976 ptype main \n\ttmpl src :: dst ::\n\t\tproto esp reqid 1761607687 mode transport",
				"src 2001:db8::2/128 dst 2001:db8::1/128 \n\tdir in priority 1976 ptype main \n\ttmpl src :: dst ::\n\t\tproto esp reqid 1761607687 mode transport",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, h := testNS(t)
			b := openIn(t, h)
			var gwL, gwR netip.Addr
			if tt.gwL != "" {
				gwL, gwR = netip.MustParseAddr(tt.gwL), netip.MustParseAddr(tt.gwR)
			}
			ps := engine.PoliciesFor(tt.sel, tt.mode, gwL, gwR, tt.protos, 7)
			for i := range ps {
				if err := ps[i].Validate(); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.InstallPolicies(ps); err != nil {
				t.Fatal(err)
			}
			out := run(t, "ip", "-n", ns, "xfrm", "policy")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("ip xfrm policy lacks\n%s\nin\n%s", w, out)
				}
			}
			if n := strings.Count(out, "\tdir "); n != len(ps) {
				t.Errorf("%d policies in the kernel, want %d:\n%s", n, len(ps), out)
			}
			if err := b.RemovePolicies(ps); err != nil {
				t.Fatal(err)
			}
			if out := run(t, "ip", "-n", ns, "xfrm", "policy"); out != "" {
				t.Errorf("policies left:\n%s", out)
			}
		})
	}
}

func TestPoliciesAllOrNothing(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	// Someone else's policy occupies the in direction of our selector.
	run(t, "ip", "-n", ns, "xfrm", "policy", "add", "src", "203.0.113.0/24", "dst", "198.51.100.0/24", "dir", "in", "priority", "2808")
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	ps := engine.PoliciesFor(sel, engine.ModeTunnel, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), []engine.Protocol{engine.ProtoESP}, 1)
	err := b.InstallPolicies(ps)
	if !errors.Is(err, unix.EEXIST) {
		t.Fatalf("install over an existing policy: %v", err)
	}
	t.Log(err)
	out := run(t, "ip", "-n", ns, "xfrm", "policy")
	if strings.Count(out, "\tdir ") != 1 || strings.Contains(out, "dir out") {
		t.Fatalf("half-installed policies left:\n%s", out)
	}
	// Flush removes only what we installed: the foreign policy stays.
	if err := b.InstallPolicies(ps[:1]); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	out = run(t, "ip", "-n", ns, "xfrm", "policy")
	if strings.Count(out, "\tdir ") != 1 || !strings.Contains(out, "dir in") {
		t.Fatalf("flush removed the wrong policies:\n%s", out)
	}
}

// TestPolicyAnyV6 installs an any-to-any IPv6 tunnel policy: the family
// comes from the tunnel endpoints.
func TestPolicyAnyV6(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	ps := engine.PoliciesFor(engine.Selector{}, engine.ModeTunnel, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), []engine.Protocol{engine.ProtoESP}, 4)
	for i := range ps {
		if err := ps[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.InstallPolicies(ps[:1]); err != nil {
		t.Fatal(err)
	}
	want := "src ::/0 dst ::/0 \n\tdir out priority 3000 ptype main \n\ttmpl src 2001:db8::1 dst 2001:db8::2\n\t\tproto esp reqid 1761607684 mode tunnel"
	if out := run(t, "ip", "-n", ns, "xfrm", "policy"); !strings.Contains(out, want) {
		t.Fatalf("ip xfrm policy:\n%s\nwant\n%s", out, want)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyStack: a second install of a key we hold replaces the kernel's
// policy in place (a reload's make-before-break, a rekeyed bundle), and
// removing either one leaves the other in the kernel; the key never has no
// policy until the last one goes.
func TestPolicyStack(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	gwL, gwR := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	esp := []engine.Protocol{engine.ProtoESP}
	old := engine.PoliciesFor(sel, engine.ModeTunnel, gwL, gwR, esp, 1)
	repl := engine.PoliciesFor(sel, engine.ModeTunnel, gwL, gwR, esp, 2)
	reqids := func() string {
		out := run(t, "ip", "-n", ns, "xfrm", "policy")
		if n := strings.Count(out, "\tdir "); n != 0 && n != 3 {
			t.Fatalf("%d policies, want 3 or none:\n%s", n, out)
		}
		switch {
		case out == "":
			return "none"
		case strings.Count(out, "reqid 1761607681 ") == 3:
			return "1"
		case strings.Count(out, "reqid 1761607682 ") == 3:
			return "2"
		}
		t.Fatalf("mixed policies:\n%s", out)
		return ""
	}
	step := func(what string, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := reqids(); got != want {
			t.Fatalf("after %s the kernel has reqid %s, want %s", what, got, want)
		}
	}
	step("install old", b.InstallPolicies(old), "1")
	step("install old again", b.InstallPolicies(old), "1")
	step("install replacement", b.InstallPolicies(repl), "2")
	step("remove old", b.RemovePolicies(old), "2")
	step("remove replacement", b.RemovePolicies(repl), "1")
	step("remove old", b.RemovePolicies(old), "none")
	if err := b.RemovePolicies(old); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("removing a policy not held: %v", err)
	}
	// A failed install takes back its replacements: the in direction is
	// someone else's for the second selector.
	step("install old", b.InstallPolicies(old), "1")
	sel2 := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/25"), Remote: netip.MustParsePrefix("203.0.113.0/25")}
	run(t, "ip", "-n", ns, "xfrm", "policy", "add", "src", "203.0.113.0/25", "dst", "198.51.100.0/25", "dir", "in")
	both := append(slices.Clone(repl), engine.PoliciesFor(sel2, engine.ModeTunnel, gwL, gwR, esp, 2)...)
	if err := b.InstallPolicies(both); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("install over a foreign policy: %v", err)
	}
	out := run(t, "ip", "-n", ns, "xfrm", "policy")
	if strings.Count(out, "reqid 1761607681 ") != 3 || strings.Count(out, "\tdir ") != 4 {
		t.Fatalf("a failed install left the kernel with:\n%s", out)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "ip", "-n", ns, "xfrm", "policy"); strings.Count(out, "\tdir ") != 1 {
		t.Fatalf("flush left:\n%s", out)
	}
}

// TestPolicyRekey: a Quick Mode rekey as the kernel sees it. The new
// bundle installs the same policies as the old (same selectors and
// reqid), or ones with other tunnel endpoints (the peer moved behind a
// NAT); then the old bundle's removal takes its policies out. The kernel's
// policies are never deleted and added again meanwhile: each keeps its
// index (XFRM_MSG_UPDPOLICY replaces in place), so no packet finds the
// selector without a policy and leaves in clear.
func TestPolicyRekey(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	gwL, gwR, gwR2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	esp := []engine.Protocol{engine.ProtoESP}
	indexes := func() []string {
		var idx []string
		fs := strings.Fields(run(t, "ip", "-s", "-n", ns, "xfrm", "policy"))
		for i := 0; i+1 < len(fs); i++ {
			if fs[i] == "index" {
				idx = append(idx, fs[i+1])
			}
		}
		slices.Sort(idx)
		return idx
	}
	old := engine.PoliciesFor(sel, engine.ModeTunnel, gwL, gwR, esp, 1)
	if err := b.InstallPolicies(old); err != nil {
		t.Fatal(err)
	}
	first := indexes()
	if len(first) != 3 {
		t.Fatalf("policies %v", first)
	}
	for i, next := range [][]engine.Policy{
		engine.PoliciesFor(sel, engine.ModeTunnel, gwL, gwR, esp, 1),
		engine.PoliciesFor(sel, engine.ModeTunnel, gwL, gwR2, esp, 1),
	} {
		if err := b.InstallPolicies(next); err != nil {
			t.Fatalf("rekey %d: install the new bundle's policies: %v", i, err)
		}
		if got := indexes(); !slices.Equal(got, first) {
			t.Fatalf("rekey %d: indexes %v after the install, were %v", i, got, first)
		}
		if err := b.RemovePolicies(old); err != nil {
			t.Fatalf("rekey %d: remove the old bundle's policies: %v", i, err)
		}
		if got := indexes(); !slices.Equal(got, first) {
			t.Fatalf("rekey %d: indexes %v after the old bundle went, were %v", i, got, first)
		}
		old = next
	}
	if out := run(t, "ip", "-n", ns, "xfrm", "policy"); strings.Count(out, "tmpl src 192.0.2.1 dst 192.0.2.3") != 1 ||
		strings.Count(out, "tmpl src 192.0.2.3 dst 192.0.2.1") != 2 {
		t.Fatalf("the kernel does not hold the last bundle's policies:\n%s", out)
	}
	if err := b.RemovePolicies(old); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); len(got) != 0 {
		t.Fatalf("policies left: %v", got)
	}
}
