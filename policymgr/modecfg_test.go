package policymgr

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

// modeCfgPolicy is a gateway with a pool and a client, as
// docs/policy-file.md's "Remote access" writes them.
const modeCfgPolicy = base + `
pools:
  rw-pool:
    range: 10.99.0.0/24
    dns: [198.51.100.53, 2001:db8::53]
    domain: example.net
    split-include: [198.51.100.0/24, 203.0.113.0/25]
    split-exclude: [198.51.100.128/26]
    banner: "Authorised use only"
  v6-pool:
    range: 2001:db8:99::/112
    split-include: [2001:db8:1::/48]
  small:
    range: 10.98.0.10-10.98.0.12
connections:
  roadwarriors:
    local-gw: 192.0.2.1
    local-address: 198.51.100.0/24
    ike: {transforms: [ike], psk: "a"}
    mode-config: {pool: rw-pool}
    proposal-list: l
  to-gw:
    local-gw: 192.0.2.5
    remote-gw: 203.0.113.1
    remote-address: 198.51.100.0/24
    ike: {transforms: [ike], psk: "b"}
    mode-config: {request: true, push: yes, interface: lo, dns: install, resolv-conf: resolv.conf}
    proposal-list: l
`

func TestPoolsAndModeConfig(t *testing.T) {
	p := mustLoad(t, modeCfgPolicy)
	rw := p.Pools["rw-pool"]
	if rw == nil || rw.Range.String() != "10.99.0.0/24" || rw.Prefix.String() != "10.99.0.0/24" {
		t.Fatalf("rw-pool %+v", rw)
	}
	if rw.Size() != 254 || rw.Domain != "example.net" || rw.Banner != "Authorised use only" ||
		len(rw.DNS) != 2 || len(rw.SplitInclude) != 2 || len(rw.SplitExclude) != 1 || rw.SplitExclude[0].String() != "198.51.100.128/26" {
		t.Errorf("rw-pool %+v size %d", rw, rw.Size())
	}
	if first, last := rw.Leasable(); first.String() != "10.99.0.1" || last.String() != "10.99.0.254" {
		t.Errorf("leasable %s-%s", first, last)
	}
	if s := p.Pools["small"]; s.Size() != 3 || s.Prefix.IsValid() {
		t.Errorf("small %+v size %d", s, s.Size())
	}
	if s := p.Pools["v6-pool"]; s.Size() != 65535 || !s.Range.Is6() || len(s.SplitInclude) != 1 || s.SplitInclude[0].String() != "2001:db8:1::/48" {
		t.Errorf("v6-pool size %d", s.Size())
	}
	_, fs, _ := LoadFindings(writePolicy(t, modeCfgPolicy), LoadOptions{})
	if len(fs) != 2 || !strings.Contains(fs[0].Text, `pool "v6-pool" is used by no connection`) || fs[0].Level != notify.LevelWarning ||
		!strings.Contains(fs[1].Text, `pool "small" is used by no connection`) {
		logFindings(t, fs)
		t.Error("unused pools not warned of")
	}
	gw, _ := p.Connection("roadwarriors")
	if mc := gw.ModeConfig; mc == nil || mc.Pool != rw || mc.Request || mc.Push {
		t.Errorf("gateway mode-config %+v", mc)
	}
	cl, _ := p.Connection("to-gw")
	if mc := cl.ModeConfig; mc == nil || !mc.Request || !mc.Push || mc.Interface != "lo" || mc.DNS != DNSInstall ||
		!strings.HasSuffix(mc.ResolvConf, "/resolv.conf") || mc.Pool != nil {
		t.Errorf("client mode-config %+v", mc)
	}
}

// TestModeConfigMistakes: each mistake is refused (message 21 last) with a
// finding at its line that names the item.
func TestModeConfigMistakes(t *testing.T) {
	conn := func(extra string) string {
		return base + "connections:\n  c:\n    local-gw: 192.0.2.1\n    local-address: 198.51.100.0/24\n" +
			"    ike: {transforms: [ike], psk: \"a\"}\n    proposal-list: l\n" + extra
	}
	pools := "pools:\n  p: {range: 10.99.0.0/24}\n"
	for _, tc := range []struct {
		name, text, want string
		at               string // the finding is on the first line holding it
	}{
		{"unknown pool", conn("    mode-config: {pool: nope}\n"), `names pool "nope", which the pools section does not define`, "mode-config:"},
		{"neither", conn("    mode-config: {interface: eth0}\n"), `needs pool: NAME (a gateway) or request: true`, "mode-config:"},
		{"client key on gateway", pools + conn("    mode-config: {pool: p, dns: install}\n"), `dns is for a client`, "mode-config:"},
		{"push not boolean", pools + conn("    mode-config: {pool: p, push: sometimes}\n"), `mode-config push must be true or false, not "sometimes"`, "mode-config:"},
		{"push alone", conn("    mode-config: {push: true}\n"), `needs pool: NAME (a gateway) or request: true`, "mode-config:"},
		{"push on a gateway", pools + conn("    mode-config: {pool: p, push: true}\n"), ``, ""},
		{"both", pools + conn("    mode-config: {pool: p, request: true}\n"), `has both pool`, "mode-config:"},
		{"pool over local-address", "pools:\n  p: {range: 198.51.100.128/25}\n" + conn("    mode-config: {pool: p}\n"), `overlaps the local-address`, "mode-config:"},
		{"overlapping pools", "pools:\n  a: {range: 10.0.0.0/24}\n  b: {range: 10.0.0.100-10.0.1.5}\n" + base, `pool "b" overlaps pool "a" (10.0.0.100-10.0.0.255)`, "  b:"},
		{"too big", "pools:\n  a: {range: 10.0.0.0/8}\n" + base, `too big`, "  a:"},
		{"v6 too big", "pools:\n  a: {range: 2001:db8::/64}\n" + base, `too big`, "  a:"},
		{"no range", "pools:\n  a: {dns: [192.0.2.53]}\n" + base, `pool "a" has no range`, "  a:"},
		{"bad range", "pools:\n  a: {range: 10.0.0.9-10.0.0.1}\n" + base, `ends before it starts`, "  a:"},
		{"mixed range", "pools:\n  a: {range: 10.0.0.1-2001:db8::1}\n" + base, `mixes IPv4 and IPv6`, "  a:"},
		{"a /31", "pools:\n  a: {range: 10.0.0.0/31}\n" + base, ``, ""},
		{"bad dns", "pools:\n  a: {range: 10.0.0.0/24, dns: [dns.example]}\n" + base, `dns "dns.example" is not an IP address`, "  a:"},
		{"v6 split", "pools:\n  a: {range: 10.0.0.0/24, split-include: [2001:db8::/32]}\n" + base, `IPv6 networks go to clients of an IPv6 pool`, "  a:"},
		{"v6 split exclude", "pools:\n  a: {range: 2001:db8:9::/112, split-exclude: [2001:db8::/32]}\n" + base, `LOCAL_LAN) carries IPv4 networks only`, "  a:"},
		{"exclude everything", "pools:\n  a: {range: 10.0.0.0/24, split-exclude: [0.0.0.0/0]}\n" + base, `split-exclude "0.0.0.0/0" is everything`, "  a:"},
		{"bad exclude", "pools:\n  a: {range: 10.0.0.0/24, split-exclude: [lan]}\n" + base, `split-exclude "lan" is not a network`, "  a:"},
		{"unknown key", "pools:\n  a: {range: 10.0.0.0/24, gateway: 10.0.0.1}\n" + base, `gateway`, "  a:"},
		{"transport", pools + base + "connections:\n  c:\n    remote-address: 192.0.2.9\n    ike: {transforms: [ike], psk: \"a\"}\n    proposal-list: l\n    mode-config: {pool: p}\n", `transport mode`, "mode-config:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fs, err := LoadFindings(writePolicy(t, tc.text), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if p == nil {
					logFindings(t, fs)
					t.Fatal("refused")
				}
				return
			}
			if p != nil {
				t.Fatalf("loaded; findings %v", fs)
			}
			found := false
			for _, f := range fs {
				if strings.Contains(f.Text, tc.want) {
					found = true
					if want := strings.Count(tc.text[:strings.Index(tc.text, tc.at)], "\n") + 1; f.Line != want {
						t.Errorf("line %d, want %d: %s", f.Line, want, f)
					}
				}
			}
			if !found || fs[len(fs)-1].Text != txt21 {
				logFindings(t, fs)
				t.Errorf("no finding %q", tc.want)
			}
		})
	}
}

// TestWarriorLease: a gateway with a pool takes as remote selector only
// the address leased to the peer, and nothing before Mode Config leased
// one; Quick Mode says why it refused.
func TestWarriorLease(t *testing.T) {
	p := mustLoad(t, modeCfgPolicy)
	gw, _ := p.Connection("roadwarriors")
	peer, lease := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.99.0.7")
	for _, tc := range []struct {
		remote  string
		leased  netip.Addr
		refused string
	}{
		{"10.99.0.7", lease, ""},
		{"10.99.0.8", lease, "is the address leased to it, 10.99.0.7, not 10.99.0.8"},
		{"10.99.0.0/24", lease, "not 10.99.0.0/24"},
		{"203.0.113.9", lease, "not 203.0.113.9"},
		{"10.99.0.7", netip.Addr{}, "the peer has none"},
		{"198.51.100.7", lease, "overlaps the local-address"},
	} {
		why := WarriorLimit(gw, sel(tc.remote, 0, 0).Addr, peer, tc.leased)
		if (tc.refused == "") != (why == "") || !strings.Contains(why, tc.refused) {
			t.Errorf("remote %s, lease %v: %q, want %q", tc.remote, tc.leased, why, tc.refused)
		}
		_, err := p.QuickMode(gw, peer, tc.leased, sel("198.51.100.0/24", 0, 0), sel(tc.remote, 0, 0))
		if (err == nil) != (tc.refused == "") || (err != nil && !strings.Contains(err.Error(), tc.refused)) {
			t.Errorf("QuickMode remote %s lease %v: %v", tc.remote, tc.leased, err)
		}
	}
}

// TestModeConfigCheck: -check says what a pool connection accepts.
func TestModeConfigCheck(t *testing.T) {
	fs, ok := Check(writePolicy(t, modeCfgPolicy), LoadOptions{})
	if !ok {
		logFindings(t, fs)
		t.Fatal("refused")
	}
	for _, f := range fs {
		if strings.Contains(f.Text, `as remote selectors it accepts only the address it leased from pool "rw-pool" (10.99.0.0/24, 254 addresses), never one overlapping the local-address 198.51.100.0/24`) {
			return
		}
	}
	logFindings(t, fs)
	t.Error("no description of the pool connection")
}

// TestPoolReloadFingerprint: a pool's content is not the connection's;
// its name is.
func TestPoolReloadFingerprint(t *testing.T) {
	a := mustLoad(t, modeCfgPolicy)
	b := mustLoad(t, strings.Replace(modeCfgPolicy, "range: 10.99.0.0/24", "range: 10.99.0.0/23", 1))
	c := mustLoad(t, strings.Replace(strings.Replace(modeCfgPolicy, "rw-pool:", "other:", 1), "pool: rw-pool", "pool: other", 1))
	if d := DiffPolicies(a, b); len(d.Changed) != 0 {
		t.Errorf("a pool's range changed the connections %v", d.Changed)
	}
	if d := DiffPolicies(a, c); len(d.Changed) != 1 || d.Changed[0] != "roadwarriors" {
		t.Errorf("another pool: %+v", d)
	}
}
