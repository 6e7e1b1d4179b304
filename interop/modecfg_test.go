package interop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// Mode Config (draft-ietf-ipsec-isakmp-mode-cfg-05) after XAUTH, against
// strongSwan 5.9 in both roles, pulled (the client's REQUEST, the
// gateway's REPLY) and pushed (the gateway's SET, the client's ACK:
// iked's mode-config.push, strongSwan's pull = no).

// ikedGateway turns qmIkedPolicy's connection into an XAUTH + Mode
// Config gateway: logins checked against users, addresses from pool rw
// (pool, the pools item's mapping), pushed when push is set, leases kept
// in a folder beside users.
func ikedGateway(users, pool string, push bool) func(string) string {
	ike := withIKE("xauth: server")
	return func(p string) string {
		p = strings.Replace(ike(p), "daemon:\n", fmt.Sprintf("daemon:\n  xauth: {backend: file, users-file: %q}\n  state-dir: %q\n",
			users, filepath.Join(filepath.Dir(users), "state")), 1)
		return p + fmt.Sprintf("    mode-config: {pool: rw, push: %v}\npools:\n  rw: %s\n", push, pool)
	}
}

// modeConfigWay names a subtest by how Mode Config travels, and says
// which configuration payload strongSwan logs the gateway's attributes
// in: CPRP (REPLY) or CPS (SET).
func modeConfigWay(push bool) (name, payload string) {
	if push {
		return "push", "CPS(ADDR"
	}
	return "pull", "CPRP(ADDR"
}

// TestCharonModeConfigClient: charon is the road warrior (psk, then
// xauth as alice, vips = 0.0.0.0) and initiates; iked is the gateway with
// a pool. charon gets the pool's first address, proposes it as its side
// of the child SA, the keys agree, and `ikectl list-leases` shows alice's
// lease. Pulled in Main and Aggressive Mode; pushed (charon's pull = no,
// iked's mode-config.push) in Main Mode.
func TestCharonModeConfigClient(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, "htpasswd")
	resolv, _ := os.ReadFile("/etc/resolv.conf")
	t.Cleanup(func() {
		if now, _ := os.ReadFile("/etc/resolv.conf"); !bytes.Equal(now, resolv) {
			t.Errorf("/etc/resolv.conf changed by the test:\n%s\nwas:\n%s", now, resolv)
		}
	})
	for _, tc := range []struct{ aggressive, push bool }{{false, false}, {true, false}, {false, true}} {
		way, payload := modeConfigWay(tc.push)
		t.Run(fmt.Sprintf("aggressive=%v/%s", tc.aggressive, way), func(t *testing.T) {
			t.Parallel()
			aggressive := tc.aggressive
			users := xauthUsersFile(t)
			s := newQMSetup(t, qmCases[0], false)
			// libipsec routes the remote selector with a source inside the
			// local one: the virtual IP (install_virtual_ip = no).
			s.swan.AddAddr(t, "203.0.113.10/32")
			c := &s.charonOpt.Connections[0]
			c.LocalXAuthID, c.VIPs, c.Aggressive, c.Children[0].LocalTS = "alice", "0.0.0.0", aggressive, ""
			c.NoPull = tc.push
			s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
			gw := ikedGateway(users, "{range: 203.0.113.10-203.0.113.20, dns: [203.0.113.129], split-exclude: [10.11.12.0/24]}", tc.push)
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
			// charon's resolve plugin writes to a file of its own
			// (interop/charon_config.go), never the machine's.
			waitLog(t, s.charon, "installing DNS server 203.0.113.129 to "+s.charon.Dir+"/resolv.conf", 5*time.Second)
			waitLog(t, s.charon, payload, time.Second)
			// Unity LOCAL_LAN: charon's unity plugin keeps the network
			// out of the tunnel with a bypass policy.
			waitLog(t, s.charon, "installed UNITY_LOCAL_LAN bypass policy for 10.11.12.0/24", 5*time.Second)
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
// selector: charon's child SA has it as remote selector, the keys agree;
// the pool's split_exclude reaches iked as Unity LOCAL_LAN.
// Pulled, and pushed (charon's pull = no, iked's mode-config.push: iked
// asks for nothing and acknowledges charon's SET).
func TestIkedModeConfigClient(t *testing.T) {
	RequireStrongSwan(t)
	for _, push := range []bool{false, true} {
		way, payload := modeConfigWay(push)
		t.Run(way, func(t *testing.T) {
			t.Parallel()
			testIkedModeConfigClient(t, push, payload)
		})
	}
}

func testIkedModeConfigClient(t *testing.T, push bool, payload string) {
	s := newQMSetup(t, qmCases[0], true)
	c := &s.charonOpt.Connections[0]
	c.RemoteXAuth, c.Pools, c.Children[0].RemoteTS, c.NoPull = true, "rw", "", push
	s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
	s.charonOpt.Pools = []CharonPool{{Name: "rw", Addrs: "198.51.100.10-198.51.100.20", DNS: "198.51.100.53", SplitExclude: "10.11.12.0/24"}}
	ike := withIKE(fmt.Sprintf("xauth: client, xauth-user: alice, xauth-password-file: %q", xauthPasswordFile(t, "correct horse")))
	state := t.TempDir() // the subtests run side by side: a lease file each
	s.edit = func(p string) string {
		p = strings.Replace(ike(p), "daemon:\n", fmt.Sprintf("daemon:\n  state-dir: %q\n", state), 1)
		return p + fmt.Sprintf("    mode-config: {request: true, push: %v}\n", push)
	}
	s.ikedInitiates(t)
	waitLog(t, s.charon, payload, 5*time.Second)
	for _, l := range strings.Split(s.charon.Log(), "\n") {
		// CPRQ(X_USER X_PWD) is charon's XAUTH request.
		if push && strings.Contains(l, "CPRQ(") && !strings.Contains(l, "X_USER") {
			t.Errorf("iked sent a Mode Config request to a gateway that pushes: %s", l)
		}
	}
	checkChildKeys(t, qmCases[0], s.charon, s.iked)
	waitLog(t, s.charon, "assigning virtual IP 198.51.100.10 to peer", 5*time.Second)
	_, ch, err := waitChild(s.charon, 5*time.Second)
	if err != nil || len(ch.RemoteTS) != 1 || ch.RemoteTS[0] != "198.51.100.10/32" {
		t.Errorf("charon's child SA remote selector %v (%v), want iked's address 198.51.100.10/32", ch.RemoteTS, err)
	}
	found := false
	for _, l := range s.iked.Lines() {
		if l.Msg == "Mode Config address assigned" && l.Fields["address"] == "198.51.100.10" && fmt.Sprint(l.Fields["dns"]) == "[198.51.100.53]" &&
			fmt.Sprint(l.Fields["split-exclude"]) == "[10.11.12.0/24]" {
			found = true
		}
	}
	if !found {
		t.Errorf("iked did not log the address 198.51.100.10, DNS 198.51.100.53 and split-exclude (Unity LOCAL_LAN) 10.11.12.0/24 it was given:\n%s", s.iked.Output())
	}
}

// TestCharonWithoutModeConfig: charon logs in with XAUTH but asks the
// iked pool gateway for no address (no vips) and proposes its own address
// in Quick Mode. iked refuses it with one notice naming charon and the
// reason and an INVALID-ID-INFORMATION notify (message 52), which charon
// reports; no child SA comes up.
func TestCharonWithoutModeConfig(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, "htpasswd")
	users := xauthUsersFile(t)
	s := newQMSetup(t, qmCases[0], false)
	c := &s.charonOpt.Connections[0]
	c.LocalXAuthID, c.Children[0].LocalTS = "alice", ""
	s.charonOpt.XAuth = []XAuthSecret{{ID: "alice", Password: "correct horse"}}
	s.edit = ikedGateway(users, "{range: 203.0.113.10-203.0.113.20}", false)
	s.startIked(t)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	if err := s.charon.Initiate("c", 15*time.Second); err == nil {
		t.Fatalf("charon's child SA came up without a lease")
	}
	if _, err := s.iked.WaitCatalog(0, 5*time.Second, "Quick Mode refused: the peer asked for no Mode Config address"); err != nil {
		t.Error(err)
	}
	if _, err := s.iked.WaitCatalog(52, 5*time.Second, "INVALID-ID-INFORMATION"); err != nil {
		t.Error(err)
	}
	waitLog(t, s.charon, "received INVALID_ID_INFORMATION error notify", 5*time.Second)
	if ks := s.iked.SAKeys(); len(ks) != 0 {
		t.Errorf("iked derived %d IPsec SA keys for a client without a lease", len(ks))
	}
}
