package policymgr

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/iked/iked/notify"
)

const lookupPolicy = base + `
connections:
  branch:
    local-address: 198.51.100.0/24
    remote-address: 203.0.113.0/24
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    ike: {transforms: [ike], psk: "a", remote-id: "fqdn:branch.example.net"}
    proposal-list: l
  branch-web:
    local-address: 198.51.100.10
    remote-address: 203.0.114.0/24
    protocol: tcp
    local-port: 443
    local-gw: 192.0.2.1
    remote-gw: 192.0.2.2
    ike: {transforms: [ike], psk: "a", remote-id: "fqdn:branch.example.net"}
    proposal-list: l
  named:
    local-address: 198.51.100.0/24
    remote-address: 192.0.2.128/25
    local-gw: 192.0.2.1
    remote-gw: peer.example.org
    ike: {transforms: [ike], psk: "b"}
    proposal-list: l
  host:
    local-address: 192.0.2.1
    remote-address: 192.0.2.8/29
    ike: {transforms: [ike], psk: "c"}
    proposal-list: l
  warriors:
    local-address: 198.51.100.0/24
    local-gw: 192.0.2.1
    sa-per-host: true
    ike: {transforms: [ike], psk: "d", remote-id: "user-fqdn:ops@example.com"}
    proposal-list: l
`

func mustLoad(t *testing.T, text string) *Policy {
	t.Helper()
	p, fs, err := LoadFindings(writePolicy(t, text), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatalf("refused: %v", err)
	}
	return p
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sel(s string, proto uint8, port uint16) Selector {
	r, form := parseAddress(s)
	if form != formRange {
		panic(s)
	}
	return Selector{Addr: r, Proto: proto, Port: port}
}

func connNames(cs []*Connection) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += " "
		}
		s += c.Name
	}
	return s
}

func TestPhase1Candidates(t *testing.T) {
	p := mustLoad(t, lookupPolicy)
	resolve := func(host string) []netip.Addr {
		if host == "peer.example.org" {
			return []netip.Addr{addr("192.0.2.77")}
		}
		return nil
	}
	for _, tc := range []struct {
		local, remote string
		want          string
		err           string
	}{
		{"192.0.2.1", "192.0.2.2", "branch branch-web warriors", ""},
		{"192.0.2.1", "192.0.2.77", "named warriors", ""},
		{"192.0.2.1", "192.0.2.9", "host warriors", ""},
		{"192.0.2.1", "192.0.2.200", "warriors", ""},
		{"192.0.2.5", "192.0.2.200", "", "Can not get policy for 192.0.2.5 <-> 192.0.2.200"},
	} {
		cs, err := p.Phase1Candidates(addr(tc.local), addr(tc.remote), resolve)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || err.(notify.Message).Num != 41 {
				t.Errorf("%s <-> %s: %v, want %q", tc.local, tc.remote, err, tc.err)
			}
			continue
		}
		if err != nil || connNames(cs) != tc.want {
			t.Errorf("%s <-> %s: %q %v, want %q", tc.local, tc.remote, connNames(cs), err, tc.want)
		}
	}
	var none *Policy
	if _, err := none.Phase1Candidates(addr("192.0.2.1"), addr("192.0.2.2"), nil); err == nil || err.(notify.Message).Num != 53 {
		t.Errorf("no policy: %v, want message 53", err)
	}

	// The peer's ID narrows the choice.
	cs, _ := p.Phase1Candidates(addr("192.0.2.1"), addr("192.0.2.2"), nil)
	if c, err := SelectByID(cs, ID{Type: 2, Data: []byte("BRANCH.example.net"), Text: "BRANCH.example.net"}); err != nil || c.Name != "branch" {
		t.Errorf("by fqdn: %v %v", c, err)
	}
	if c, err := SelectByID(cs, ID{Type: 3, Data: []byte("ops@example.com"), Text: "ops@example.com"}); err != nil || c.Name != "warriors" {
		t.Errorf("by user fqdn: %v %v", c, err)
	}
	if _, err := SelectByID(cs, ID{Type: 2, Data: []byte("evil.example"), Text: "evil.example"}); err == nil || err.Error() != "Can not get policy for 192.0.2.1 <-> evil.example" {
		t.Errorf("unknown id: %v", err)
	}
}

func TestQuickModeNarrowing(t *testing.T) {
	p := mustLoad(t, lookupPolicy)
	branch, _ := p.Connection("branch")
	warriors, _ := p.Connection("warriors")
	gw := addr("192.0.2.2")
	for _, tc := range []struct {
		name          string
		phase1        *Connection
		peer          netip.Addr
		local, remote Selector
		conn          string
		narrowed      bool
		msg           int
	}{
		{"exact", branch, gw, sel("198.51.100.0/24", 0, 0), sel("203.0.113.0/24", 0, 0), "branch", false, 0},
		{"subnet subset", branch, gw, sel("198.51.100.0/25", 0, 0), sel("203.0.113.7", 0, 0), "branch", true, 0},
		{"protocol subset", branch, gw, sel("198.51.100.0/24", 6, 22), sel("203.0.113.0/24", 6, 0), "branch", true, 0},
		{"superset refused", branch, gw, sel("198.51.100.0/23", 0, 0), sel("203.0.113.0/24", 0, 0), "", false, 54},
		{"other connection, same peer", branch, gw, sel("198.51.100.10", 6, 443), sel("203.0.114.0/24", 6, 0), "branch-web", false, 0},
		{"other connection wrong port", branch, gw, sel("198.51.100.10", 6, 80), sel("203.0.114.0/24", 6, 0), "", false, 54},
		{"other connection any protocol", branch, gw, sel("198.51.100.10", 0, 0), sel("203.0.114.0/24", 0, 0), "", false, 54},
		{"sa-per-host own address", warriors, addr("203.0.113.50"), sel("198.51.100.0/24", 0, 0), sel("203.0.113.50", 0, 0), "warriors", true, 0},
		{"sa-per-host subnet", warriors, addr("203.0.113.50"), sel("198.51.100.0/24", 0, 0), sel("10.1.0.0/16", 0, 0), "", false, 63},
		{"sa-per-host other host", warriors, addr("203.0.113.50"), sel("198.51.100.0/24", 0, 0), sel("10.1.0.1", 0, 0), "", false, 64},
	} {
		m, err := p.QuickMode(tc.phase1, tc.peer, netip.Addr{}, tc.local, tc.remote)
		if tc.msg != 0 {
			if err == nil || err.(notify.Message).Num != tc.msg {
				t.Errorf("%s: %+v %v, want message %d", tc.name, m, err, tc.msg)
			}
			continue
		}
		if err != nil || m.Conn.Name != tc.conn || m.Narrowed != tc.narrowed || m.Local != tc.local || m.Remote != tc.remote {
			t.Errorf("%s: %+v %v, want %s narrowed=%v", tc.name, m, err, tc.conn, tc.narrowed)
		}
	}
	_, err := p.QuickMode(branch, gw, netip.Addr{}, sel("198.51.100.0/23", 0, 0), sel("203.0.113.0/24", 0, 0))
	if want := "SPD rejected conn using selectors 198.51.100.0/23 <-> 203.0.113.0/24"; err == nil || err.Error() != want {
		t.Errorf("54 text: %v, want %q", err, want)
	}
}

func TestForTraffic(t *testing.T) {
	p := mustLoad(t, lookupPolicy)
	for _, tc := range []struct {
		src, dst string
		proto    uint8
		sp, dp   uint16
		want     string
	}{
		{"198.51.100.10", "203.0.113.1", 17, 53, 53, "branch"},
		{"198.51.100.10", "203.0.114.1", 6, 443, 5555, "branch-web"},
		{"198.51.100.10", "203.0.114.1", 6, 80, 5555, "warriors"}, // not branch-web's port: the road warriors' any
		{"192.0.2.1", "192.0.2.9", 6, 80, 5555, "host"},
		{"192.0.2.1", "192.0.2.99", 6, 80, 5555, ""},
		{"198.51.100.10", "8.8.8.8", 1, 0, 0, "warriors"},
	} {
		c, ok := p.ForTraffic(addr(tc.src), addr(tc.dst), tc.proto, tc.sp, tc.dp)
		if got := ""; ok {
			got = c.Name
			if got != tc.want {
				t.Errorf("%v: %s, want %s", tc, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("%v: none, want %s", tc, tc.want)
		}
	}
}

func TestRange(t *testing.T) {
	r := RangeOf(netip.MustParsePrefix("2001:db8::/126"))
	if r.String() != "2001:db8::/126" || r.To != addr("2001:db8::3") {
		t.Errorf("%v %v", r, r.To)
	}
	a, _ := parseAddress("192.0.2.10-192.0.2.20")
	b, _ := parseAddress("192.0.2.16/29")
	i, ok := a.Intersect(b)
	if !ok || i.String() != "192.0.2.16-192.0.2.20" {
		t.Errorf("intersect %v %v", i, ok)
	}
	if a.IDType() != 7 || b.IDType() != 4 || HostRange(addr("2001:db8::1")).IDType() != 5 {
		t.Errorf("ID types %v %v", a.IDType(), b.IDType())
	}
}

// TestWarriorLimit: the Quick Mode limits of a road warrior connection
// (no remote-gw), in both IP versions: without remote-address only the
// peer's own address; with it, that range or part of it; never a selector
// overlapping local-address. Connections with a fixed peer gateway and
// transport mode connections are not limited here.
func TestWarriorLimit(t *testing.T) {
	// lookupPolicy's transforms and proposals, other connections.
	head := lookupPolicy[:strings.Index(lookupPolicy, "connections:")]
	p := mustLoad(t, head+dedent(`
	connections:
	  rw4:
	    local-address: 198.51.100.0/24
	    local-gw: 192.0.2.1
	    ike: {transforms: [ike], psk: "a"}
	    proposal-list: l
	  rw6:
	    local-address: 2001:db8:1::/48
	    remote-address: 2001:db8::/32
	    local-gw: 2001:db8::1
	    ike: {transforms: [ike], psk: "b"}
	    proposal-list: l
	  fixed:
	    local-address: 198.51.100.0/24
	    local-gw: 192.0.2.1
	    remote-gw: 192.0.2.2
	    ike: {transforms: [ike], psk: "c"}
	    proposal-list: l
	`))
	peer4, peer6 := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:2::9")
	r := func(s string) Range {
		a, form := parseAddress(s)
		if form != formRange || a.IsAny() {
			t.Fatalf("%q is no selector", s)
		}
		return a
	}
	for _, tc := range []struct {
		conn, remote string
		peer         netip.Addr
		refused      bool
	}{
		{"rw4", "203.0.113.9", peer4, false},
		{"rw4", "203.0.113.10", peer4, true},
		{"rw4", "10.0.0.0/8", peer4, true},
		{"rw4", "198.51.100.7", netip.MustParseAddr("198.51.100.7"), true}, // inside the LAN
		{"rw6", "2001:db8:2::/64", peer6, false},
		{"rw6", "2001:db8:1:5::/64", peer6, true}, // the gateway's /48
		{"fixed", "10.0.0.0/8", peer4, false},
	} {
		c, ok := p.Connection(tc.conn)
		if !ok {
			t.Fatalf("no connection %s", tc.conn)
		}
		if why := WarriorLimit(c, r(tc.remote), tc.peer, netip.Addr{}); (why != "") != tc.refused {
			t.Errorf("%s, remote %s from %s: %q, want refused=%v", tc.conn, tc.remote, tc.peer, why, tc.refused)
		}
	}
}
