package interop

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// fragPKI is the chain of TestIkedFragmentation, made once: RSA-4096 keys
// take strongSwan's pki seconds each.
var (
	fragPKIOnce sync.Once
	fragPKI     *ChainPKI
)

// TestIkedFragmentation: strongSwan and iked authenticate with a chain of
// three RSA-4096 certificates (root CA, intermediate CA, end entity; iked
// sends its own and the intermediate, 3.3 KB, charon its own, 2 KB)
// through a router that drops every IP fragment. Main Mode 5 and 6 are
// then over the links' MTU and cross only as IKE fragments: with charon's fragmentation = yes and = force and
// iked's default, in both roles, phase 1 completes, each side reassembled
// the other's fragments and the router dropped no IP fragment. The
// control: with iked's fragmentation: no (charon yes), neither side
// fragments, the router drops the IP fragments and phase 1 fails.
func TestIkedFragmentation(t *testing.T) {
	RequireStrongSwan(t)
	const swanName, ikedName = "swan.example", "iked.example"
	fragPKIOnce.Do(func() { fragPKI = MakeChainPKI(t, "rsa", 4096, swanName, ikedName) })
	if fragPKI == nil {
		t.Fatal("no PKI")
	}
	pki := fragPKI
	for _, tc := range []struct {
		name       string
		swan, iked string // charon's fragmentation, iked's ("" default)
		up         bool
	}{
		{"swan-yes", "yes", "", true},
		{"swan-force", "force", "", true},
		{"iked-no", "yes", "no", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothRoles(t, func(t *testing.T, ikedInitiates bool) {
				r := NewRouted(t, RoutedOptions{DropIPFragments: true})
				s := &p1Setup{ike: r.Left, swan: r.Right, ikedInitiates: ikedInitiates}
				swanAddr, ikeAddr := s.swan.Addr.String(), s.ike.Addr.String()
				s.charonOpt = CharonOptions{
					RetransmitTimeout: time.Second, RetransmitTries: 3,
					Connections: []Connection{{
						LocalAddrs: swanAddr, RemoteAddrs: ikeAddr, Proposals: "aes128-sha256-modp2048",
						LocalAuth: "pubkey", RemoteAuth: "pubkey", LocalID: swanName, RemoteID: ikedName,
						LocalCert: swanName + "-cert.pem", SendCert: "always", Fragment: tc.swan,
						Children: []Child{{ESPProposals: "aes128-sha256"}},
					}},
					// The intermediate in x509/, not x509ca/: strongSwan takes
					// every x509ca/ certificate as a trust anchor and would
					// then not send it.
					Credentials: Credentials{CACerts: []string{pki.CACert},
						Certs: []string{pki.Certs[swanName], pki.IntCert}, Keys: []string{pki.Keys[swanName]}},
				}
				s.ikedPol = IkedPolicy{Listen: ikeAddr, CACert: pki.CACert, Intermediates: []string{pki.IntCert},
					Cert: pki.Certs[ikedName], Key: pki.Keys[ikedName],
					Conns: []IkedConn{{
						LocalGW: ikeAddr, RemoteGW: swanAddr, Ciphers: []string{"aes128"}, Hashes: []string{"sha256"},
						Groups: []string{"modp2048"}, Cert: true, LocalID: "fqdn:" + ikedName, RemoteID: "fqdn:" + swanName,
						SendCert: "always", Fragment: tc.iked,
					}}}
				s.start(t)
				if !tc.up {
					time.Sleep(12 * time.Second)
					noneEstablished(t, s.charon, s.iked)
					if n, err := r.DroppedFragments(); err != nil || n == 0 {
						t.Fatalf("the router dropped %d IP fragments (%v): the control does not show the path failing", n, err)
					}
					if strings.Contains(s.charon.Log(), "splitting IKE message") {
						t.Error("charon fragmented though iked did not announce fragmentation")
					}
					return
				}
				sa := checkEstablished(t, s.charon, s.iked, 30*time.Second)
				t.Logf("established: strongSwan %s <-> %s", sa.LocalID, sa.RemoteID)
				log := s.charon.Log()
				// charon 5.9 sends its end-entity certificate alone (2 KB
				// with the signature, still over the links' MTU); iked
				// sends the intermediate with its own (3.3 KB).
				for _, want := range []string{"splitting IKE message", "reassembled fragmented IKE message",
					`received issuer cert "C=CH, O=iked test, CN=iked test intermediate CA"`} {
					if !strings.Contains(log, want) {
						t.Errorf("charon's log has no %q", want)
					}
				}
				resp, err := s.iked.Call(control.CmdStats, "")
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"fragmented", "fragments-sent", "reassembled", "fragments-received"} {
					if v, _ := control.Get(resp.Stats.Other, name); v == 0 {
						t.Errorf("iked's %s counter is 0", name)
					}
				}
				if n, err := r.DroppedFragments(); err != nil || n != 0 {
					t.Errorf("the router dropped %d IP fragments (%v)", n, err)
				}
			})
		})
	}
}
