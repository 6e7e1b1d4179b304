package main

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/interop"
)

// ikeload's namespaces are lg<pid>-..., apart from the interop
// package's it<pid>-....
func init() { interop.Prefix = "lg" }

// TestLoadAgainstStrongSwan runs ikeload against strongSwan's charon as
// responder in a namespace (interop harness): Main Mode PSK with Quick
// Mode from three client ports, Aggressive Mode, and a group charon does
// not accept, whose NO-PROPOSAL-CHOSEN is the failures' reason. charon
// cannot install its ESP states on a kernel without ESP (it installs
// after QM3, docs/performance.md), so the check is on the wire: every
// Quick Mode done on our side, each IKE_SA established in charon's log.
func TestLoadAgainstStrongSwan(t *testing.T) {
	interop.RequireStrongSwan(t)
	p := interop.NewPair(t)
	a, b := p.A.Addr.String(), p.B.Addr.String()
	psk := "ikeload interop key"
	conn := func(name, group string, aggressive bool) interop.Connection {
		return interop.Connection{Name: name, LocalAddrs: b, RemoteAddrs: "%any", LocalID: b, RemoteID: "%any",
			Proposals: "aes128-sha256-" + group, Aggressive: aggressive, Unique: "never",
			Children: []interop.Child{{Name: "c" + name, ESPProposals: "aes128-sha256", Mode: "transport"}}}
	}
	c := interop.StartCharon(t, p.B.NS, interop.CharonOptions{
		Connections: []interop.Connection{conn("mm", "ecp256", false)},
		Secrets:     []interop.Secret{{IDs: []string{a, b}, PSK: []byte(psk)}},
	})
	cfg := pairConfig(p, psk)
	cfg.Groups = []string{"ecp256"}
	cfg.Total, cfg.Concurrency, cfg.Ports = 9, 3, 3
	runAgainst(t, c, "mm", cfg)
	if n := strings.Count(c.Log(), "CHILD_SA cmm{"); n == 0 {
		t.Fatalf("charon never negotiated a CHILD_SA")
	}

	// A group charon refuses: NO-PROPOSAL-CHOSEN is the reason.
	cfg.Groups = []string{"modp2048"}
	cfg.Total, cfg.Ports = 2, 1
	cfg.Retransmit, cfg.Tries = 300*time.Millisecond, 2
	rep, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 0 || rep.Failures["notify NO-PROPOSAL-CHOSEN"] != 2 {
		t.Fatalf("refused group: %+v", rep)
	}
}

// TestLoadAggressiveAgainstStrongSwan: Aggressive Mode PSK, phase 1 only.
func TestLoadAggressiveAgainstStrongSwan(t *testing.T) {
	interop.RequireStrongSwan(t)
	p := interop.NewPair(t)
	a, b := p.A.Addr.String(), p.B.Addr.String()
	psk := "ikeload interop key"
	c := interop.StartCharon(t, p.B.NS, interop.CharonOptions{
		Connections: []interop.Connection{{Name: "am", LocalAddrs: b, RemoteAddrs: "%any", LocalID: b, RemoteID: a,
			Proposals: "aes128-sha256-modp2048", Aggressive: true, Unique: "never",
			Children: []interop.Child{{Name: "cam", ESPProposals: "aes128-sha256", Mode: "transport"}}}},
		Secrets: []interop.Secret{{IDs: []string{a, b}, PSK: []byte(psk)}},
	})
	cfg := pairConfig(p, psk)
	cfg.Mode = "aggressive"
	cfg.QuickMode = false
	cfg.Total, cfg.Concurrency = 5, 5
	runAgainst(t, c, "am", cfg)
}

// pairConfig is base() from the pair's A to its B, in A's namespace.
func pairConfig(p *interop.Pair, psk string) Config {
	cfg := base()
	cfg.Targets = []netip.Addr{p.B.Addr}
	cfg.Sources = []netip.Addr{p.A.Addr}
	cfg.Netns = p.A.NS.Name
	cfg.PSK = psk
	return cfg
}

// runAgainst runs cfg and wants every SA established, on our side and in
// charon's log (connection name).
func runAgainst(t *testing.T, c *interop.Charon, name string, cfg Config) {
	t.Helper()
	rep, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != cfg.Total || rep.Failed != 0 {
		t.Fatalf("%s: %+v\ncharon:\n%s", name, rep, c.Log())
	}
	if n := countEstablished(c.Log(), name); n != cfg.Total {
		t.Fatalf("charon established %d IKE_SAs of %s, want %d", n, name, cfg.Total)
	}
}

// countEstablished counts charon's "IKE_SA NAME[n] established" lines.
func countEstablished(log, name string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "IKE_SA "+name+"[") && strings.Contains(l, "] established between") {
			n++
		}
	}
	return n
}

// TestLoadCertificatesAgainstStrongSwan: Main Mode with ECDSA
// certificates (interop.MakePKI), both sides sending theirs.
func TestLoadCertificatesAgainstStrongSwan(t *testing.T) {
	interop.RequireStrongSwan(t)
	p := interop.NewPair(t)
	pki := interop.MakePKI(t, "ecdsa", 256, "responder.example", "ikeload.example")
	for _, f := range []string{pki.Keys["ikeload.example"], pki.Keys["responder.example"]} {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := interop.StartCharon(t, p.B.NS, interop.CharonOptions{
		Connections: []interop.Connection{{Name: "cert", LocalAddrs: p.B.Addr.String(), RemoteAddrs: "%any",
			LocalID: "C=CH, O=iked test, CN=responder.example", RemoteID: "%any",
			LocalAuth: "pubkey", RemoteAuth: "pubkey", LocalCert: "responder.example-cert.pem", SendCert: "always",
			Proposals: "aes128-sha256-ecp256", Unique: "never",
			Children: []interop.Child{{Name: "ccert", ESPProposals: "aes128-sha256", Mode: "transport"}}}},
		Credentials: interop.Credentials{CACerts: []string{pki.CACert}, Certs: []string{pki.Certs["responder.example"]},
			Keys: []string{pki.Keys["responder.example"]}},
	})
	cfg := pairConfig(p, "")
	cfg.Auth, cfg.PSK = "certificate", ""
	cfg.Cert, cfg.Key, cfg.CA = pki.Certs["ikeload.example"], pki.Keys["ikeload.example"], pki.CACert
	cfg.Groups = []string{"ecp256"}
	cfg.Total, cfg.Concurrency = 4, 2
	runAgainst(t, c, "cert", cfg)
}
