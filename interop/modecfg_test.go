package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// Mode Config (draft-ietf-ipsec-isakmp-mode-cfg-05, pull: the client's
// REQUEST, the gateway's REPLY) after XAUTH, against strongSwan 5.9 in
// both roles.

// ikedGateway turns qmIkedPolicy's connection into an XAUTH + Mode
// Config gateway: logins checked against users, addresses from pool rw
// (pool, the pools item's mapping), leases kept in a folder beside users.
func ikedGateway(users, pool string) func(string) string {
	ike := withIKE("xauth: server")
	return func(p string) string {
		p = strings.Replace(ike(p), "daemon:\n", fmt.Sprintf("daemon:\n  xauth: {backend: file, users-file: %q}\n  state-dir: %q\n",
			users, filepath.Join(filepath.Dir(users), "state")), 1)
		return p + "    mode-config: {pool: rw}\npools:\n  rw: " + pool + "\n"
	}
}

// TestCharonModeConfigClient: charon is the road warrior (psk, then
// xauth as alice, vips = 0.0.0.0) and initiates; iked is the gateway with
// a pool. charon gets the pool's first address, proposes it as its side
// of the child SA, the keys agree, and `ikectl list-leases` shows alice's
// lease.
func TestCharonModeConfigClient(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, "htpasswd")
	for _, aggressive := range []bool{false, true} {
		t.Run(fmt.Sprintf("aggressive=%v", aggressive), func(t *testing.T) {
			t.Parallel()
			users := xauthUsersFile(t)
			s := newQMSetup(t, qmCases[0], false)
			// libipsec routes the remote selector with a source inside the
			// local one: the virtual IP (install_virtual_ip = no).
			s.swan.AddAddr(t, "203.0.113.10/32")
			c := &s.charonOpt.Connections[0]
			c.LocalXAuthID, c.VIPs, c.Aggressive, c.Children[0].LocalTS = "alice", "0.0.0.0", aggressive, ""
			s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
			gw := ikedGateway(users, "{range: 203.0.113.10-203.0.113.20, dns: [203.0.113.129]}")
			s.edit = func(p string) string {
				if aggressive {
					p = strings.Replace(p, "{mode: main,", "{mode: aggressive,", 1)
				}
				return gw(p)
			}
			s.startIked(t)
			s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
			if err := s.charon.Initiate("c", 30*time.Second); err != nil {
				t.Fatalf("swanctl --initiate: %v\niked:\n%s\ncharon:\n%s", err, s.iked.catalogSummary(), s.charon.Log())
			}
			checkChildKeys(t, qmCases[0], s.charon, s.iked)
			waitLog(t, s.charon, "installing new virtual IP 203.0.113.10", 5*time.Second)
			_, ch, err := waitChild(s.charon, 5*time.Second)
			if err != nil || len(ch.LocalTS) != 1 || ch.LocalTS[0] != "203.0.113.10/32" {
				t.Errorf("charon's child SA local selector %v (%v), want its virtual IP 203.0.113.10/32", ch.LocalTS, err)
			}
			r, err := s.iked.Call(control.CmdListLeases, "")
			if err != nil || len(r.Leases) != 1 || r.Leases[0].Address != "203.0.113.10" || r.Leases[0].User != "alice" || !r.Leases[0].Online {
				t.Errorf("ikectl list-leases: %+v %v", r, err)
			}
		})
	}
}

// TestIkedModeConfigClient: charon is the gateway (psk, then xauth;
// pools with an address range and a DNS server); iked is the road
// warrior (`ike.xauth: client`, `mode-config: {request: true}`) and
// initiates. iked gets charon's first address and uses it as its local
// selector: charon's child SA has it as remote selector, the keys agree.
func TestIkedModeConfigClient(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], true)
	c := &s.charonOpt.Connections[0]
	c.RemoteXAuth, c.Pools, c.Children[0].RemoteTS = true, "rw", ""
	s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
	s.charonOpt.Pools = []CharonPool{{Name: "rw", Addrs: "198.51.100.10-198.51.100.20", DNS: "198.51.100.53"}}
	ike := withIKE(fmt.Sprintf("xauth: client, xauth-user: alice, xauth-password-file: %q", xauthPasswordFile(t, "correct horse")))
	s.edit = func(p string) string { return ike(p) + "    mode-config: {request: true}\n" }
	s.ikedInitiates(t)
	checkChildKeys(t, qmCases[0], s.charon, s.iked)
	waitLog(t, s.charon, "assigning virtual IP 198.51.100.10 to peer", 5*time.Second)
	_, ch, err := waitChild(s.charon, 5*time.Second)
	if err != nil || len(ch.RemoteTS) != 1 || ch.RemoteTS[0] != "198.51.100.10/32" {
		t.Errorf("charon's child SA remote selector %v (%v), want iked's address 198.51.100.10/32", ch.RemoteTS, err)
	}
	found := false
	for _, l := range s.iked.Lines() {
		if l.Msg == "Mode Config address assigned" && l.Fields["address"] == "198.51.100.10" && fmt.Sprint(l.Fields["dns"]) == "[198.51.100.53]" {
			found = true
		}
	}
	if !found {
		t.Errorf("iked did not log the address 198.51.100.10 and DNS 198.51.100.53 it was given:\n%s", s.iked.Proc.Output())
	}
}
