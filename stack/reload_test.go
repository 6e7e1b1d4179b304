package stack_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// testCA is a certificate authority made for one test: P-256 keys,
// validity from 1990 to 2100 (the synctest bubble's clock starts in 2000),
// files in dir.
type testCA struct {
	dir    string
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	serial int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca := &testCA{dir: t.TempDir(), serial: 1}
	ca.key = mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "reload test CA"},
		NotBefore: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId: []byte{1, 2, 3, 4},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	writePEM(t, ca.path("ca.pem"), "CERTIFICATE", der)
	ca.writeCRL(t)
	return ca
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes name.pem and name.key: an end-entity certificate for the
// host addr (its ID in phase 1).
func (ca *testCA) issue(t *testing.T, name, addr string) *x509.Certificate {
	t.Helper()
	ca.serial++
	k := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: ca.cert.NotBefore, NotAfter: ca.cert.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		IPAddresses: []net.IP{net.ParseIP(addr)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, ca.path(name+".pem"), "CERTIFICATE", der)
	writePEM(t, ca.path(name+".key"), "PRIVATE KEY", kder)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeCRL (re)writes ca.crl revoking the given certificates.
func (ca *testCA) writeCRL(t *testing.T, revoked ...*x509.Certificate) {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(int64(len(revoked)) + 1),
		ThisUpdate: ca.cert.NotBefore, NextUpdate: ca.cert.NotAfter,
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: ca.cert.NotBefore})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, ca.path("ca.crl"), "X509 CRL", der)
}

// reloadConn is one connection of a reload test's policy: to the peer at
// remote, with a pre-shared key or (psk empty) the certificate "me".
type reloadConn struct {
	name, local, remote, psk, extra string
}

// reloadPolicy is a policy file of a reload test; certs names this
// node's certificate and key files in ca's folder ("" for none) and crl
// puts the CA's CRL in force.
func reloadPolicy(local string, ca *testCA, cert string, crl bool, conns ...reloadConn) func(string) string {
	return func(sock string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "daemon:\n  listen: [%q]\n  natt-port: 0\n  engine: none\n  control-socket: %s\n", local, sock)
		b.WriteString("  retransmit: {timeout: 500ms, tries: 3}\n  log: {level: debug, format: json}\n")
		if cert != "" {
			b.WriteString("certificates:\n")
			fmt.Fprintf(&b, "  ca: {file: %s, trusted: true", ca.path("ca.pem"))
			if crl {
				fmt.Fprintf(&b, ", crl: %s", ca.path("ca.crl"))
			}
			fmt.Fprintf(&b, "}\n  me: {file: %s, private-key: %s}\n", ca.path(cert+".pem"), ca.path(cert+".key"))
		}
		b.WriteString("transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}\n")
		b.WriteString("  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\nconnections:\n")
		for _, c := range conns {
			fmt.Fprintf(&b, "  %s:\n    local-address: %s\n    remote-address: %s\n    initiate: never\n    proposal-list: qm\n%s", c.name, c.local, c.remote, c.extra)
			if c.psk != "" {
				fmt.Fprintf(&b, "    ike: {mode: main, transforms: [ike], auth: psk, psk: %q}\n", c.psk)
			} else {
				b.WriteString("    ike: {mode: main, transforms: [ike], auth: certificate, certificate: me}\n")
			}
		}
		return b.String()
	}
}

// bySPIs returns the engine's SA records with peer as the other end.
func withPeer(e *memory.Backend, peer string) []memory.Record {
	p := netip.MustParseAddr(peer)
	var out []memory.Record
	for _, r := range e.SAs() {
		if r.Ref.Src == p || r.Ref.Dst == p {
			out = append(out, r)
		}
	}
	return out
}

// TestReloadRevokes: B answers five peers, each with its own connection:
// keep and gone (pre-shared keys), rotate (a pre-shared key), revoke and
// certok (certificates of one CA, whose CRL is empty). Once every peer's
// ISAKMP and IPsec SAs are up, B's policy file loses gone, gets a new
// key for rotate and moves keep to the end, and the CRL file now lists
// the certificate of revoke's peer; then B reloads. Exactly the SAs of
// gone, rotate and revoke go: B deletes them and tells each peer, whose
// ISAKMP SA ends as deleted by the peer and whose IPsec SAs leave its
// engine. keep's and certok's stay on both sides, and keep's next Quick
// Mode (the peer's rekey) runs on B's new connection: its IPsec SAs get
// the connection's new reqid, its place in the new file.
func TestReloadRevokes(t *testing.T) {
	const hostB = "192.0.2.2"
	peers := []struct{ name, addr, psk string }{
		{"keep", "192.0.2.11", "keep key"},
		{"gone", "192.0.2.12", "gone key"},
		{"rotate", "192.0.2.13", "old key"},
		{"revoke", "192.0.2.14", ""},
		{"certok", "192.0.2.15", ""},
	}
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		ca := newTestCA(t)
		ca.issue(t, "b", hostB)
		certs := map[string]*x509.Certificate{}
		var bConns []reloadConn
		for _, p := range peers {
			if p.psk == "" {
				certs[p.name] = ca.issue(t, p.name, p.addr)
			}
			bConns = append(bConns, reloadConn{name: p.name, local: hostB, remote: p.addr, psk: p.psk})
		}
		b := stacktest.StartYAML(t, reloadPolicy(hostB, ca, "b", true, bConns...), stacktest.Options{Net: nw})
		nodes := map[string]*stacktest.Node{}
		for _, p := range peers {
			cert, extra := "", ""
			if p.psk == "" {
				cert = p.name
			}
			if p.name == "keep" {
				extra = "    lifetime: 20m\n" // the peer rekeys first, at 18 minutes
			}
			n := stacktest.StartYAML(t, reloadPolicy(p.addr, ca, cert, false,
				reloadConn{name: "link", local: p.addr, remote: hostB, psk: p.psk, extra: extra}), stacktest.Options{Net: nw})
			nodes[p.name] = n
			n.Ctl(t, control.CmdInitiate, "link")
		}
		b.WaitSAs(t, 2*len(peers), 30*time.Second)
		for _, p := range peers {
			nodes[p.name].WaitSAs(t, 2, 10*time.Second)
		}

		ca.writeCRL(t, certs["revoke"])
		newConns := []reloadConn{bConns[2], bConns[3], bConns[4], bConns[0]}
		newConns[0].psk = "new key"
		if err := os.WriteFile(b.Conf, []byte(reloadPolicy(hostB, ca, "b", true, newConns...)(b.Socket)), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := b.Ctl(t, control.CmdReload, ""); r.Error != "" {
			t.Fatal(r.Error)
		}
		stacktest.Wait(t, 10*time.Second, "the revoked SAs gone", func() bool { return len(b.Engine.SAs()) == 4 }, b)

		revoked := map[string]string{}
		for _, r := range b.Records(t, "policy reload revokes an ISAKMP SA", 0) {
			revoked[r["conn"].(string)], _ = r["reason"].(string)
		}
		want := map[string]string{"gone": "connection removed", "rotate": "connection changed", "revoke": "revoked"}
		if len(revoked) != len(want) {
			t.Errorf("B revoked %v, want gone, rotate and revoke", revoked)
		}
		for conn, reason := range want {
			if !strings.Contains(revoked[conn], reason) {
				t.Errorf("%s revoked for %q, want %q", conn, revoked[conn], reason)
			}
		}
		for _, p := range peers {
			n := nodes[p.name]
			_, gone := want[p.name]
			if gone {
				stacktest.Wait(t, 5*time.Second, p.name+"'s IPsec SAs deleted by B", func() bool { return len(n.Engine.SAs()) == 0 }, n)
				told := false
				for _, r := range n.Records(t, "ISAKMP SA removed", 0) {
					told = told || r["reason"] == "deleted by the peer"
				}
				if !told {
					t.Errorf("%s: its ISAKMP SA did not end by B's Delete\n%s", p.name, n.Log.String())
				}
				continue
			}
			if got := len(n.Engine.SAs()); got != 2 {
				t.Errorf("%s lost its IPsec SAs: %d left", p.name, got)
			}
			if got := len(withPeer(b.Engine, p.addr)); got != 2 {
				t.Errorf("B lost %s's IPsec SAs: %d left", p.name, got)
			}
			if rs := n.Records(t, "ISAKMP SA removed", 0); len(rs) != 0 {
				t.Errorf("%s: ISAKMP SA removed: %v", p.name, rs)
			}
		}

		// keep's peer rekeys at 18 minutes; B answers on its connection
		// of the new policy, whose reqid is its place there (4th).
		oldSPIs := withPeer(b.Engine, peers[0].addr)
		stacktest.Wait(t, 25*time.Minute, "keep's IPsec SAs rekeyed", func() bool {
			now := withPeer(b.Engine, peers[0].addr)
			return len(now) == 2 && !slices.ContainsFunc(now, func(r memory.Record) bool {
				return slices.ContainsFunc(oldSPIs, func(o memory.Record) bool { return o.Ref == r.Ref })
			})
		}, b, nodes["keep"])
		for _, r := range withPeer(b.Engine, peers[0].addr) {
			if r.ReqID != 4 {
				t.Errorf("keep's rekeyed IPsec SA %v has reqid %d, want 4 (the new policy's)", r.Ref, r.ReqID)
			}
		}
	})
}

// TestReloadRevokesDetached: A says goodbye with an ISAKMP Delete alone
// (its Deleter is phase 1's, as charon does after a reauthentication), so
// B keeps the IPsec SAs detached from any ISAKMP SA. A reload that changes
// their connection (another pre-shared key) removes them from B's engine.
func TestReloadRevokesDetached(t *testing.T) {
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		pb := stacktest.Policy{}
		a, b := stacktest.Pair(t, stacktest.Policy{}, stacktest.Options{Net: nw, Edit: func(s *stack.Stack) { s.Deleter = phase1.Deleter{Life: s.Life} }},
			pb, stacktest.Options{Net: nw})
		a.Ctl(t, control.CmdInitiate, "link")
		b.WaitSAs(t, 2, 10*time.Second)
		a.Ctl(t, control.CmdTerminate, "link")
		b.WaitRecord(t, "ISAKMP SA removed", 0, 5*time.Second)
		if got := len(b.Engine.SAs()); got != 2 {
			t.Fatalf("B kept %d IPsec SAs after the ISAKMP Delete alone, want 2 detached", got)
		}
		pb.Local, pb.Remote, pb.PSK = stacktest.HostB, stacktest.HostA, "another key"
		if err := os.WriteFile(b.Conf, []byte(pb.YAML(b.Socket)), 0o600); err != nil {
			t.Fatal(err)
		}
		b.Ctl(t, control.CmdReload, "")
		b.WaitSAs(t, 0, 5*time.Second)
	})
}
