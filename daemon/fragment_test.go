package daemon_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// pathPayload is the largest UDP payload a path of 1280-byte IPv4
// datagrams carries unfragmented (daemon.FragmentPathSize less the IP and
// UDP headers). The tests' network drops anything larger, as a path that
// drops IP fragments does.
const pathPayload = daemon.FragmentPathSize - 20 - 8

// chainPKI writes, in a temporary folder, a chain of RSA certificates: a
// root CA, an intermediate CA it signs, and an end-entity certificate
// per host signed by the intermediate, with the host's address as
// subjectAltName (its phase 1 ID). Each end entity sends its own and the
// intermediate's certificate, which makes Main Mode 5 and 6 too large for
// the path.
func chainPKI(t *testing.T, hosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	serial := int64(0)
	issue := func(tmpl, parent *x509.Certificate, parentKey *rsa.PrivateKey) (*x509.Certificate, *rsa.PrivateKey) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{Organization: []string{"iked fragment test"}, CommonName: cn},
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	ca, caKey := issue(caTmpl("root CA"), nil, nil)
	write("ca.pem", "CERTIFICATE", ca.Raw)
	in, inKey := issue(caTmpl("intermediate CA"), ca, caKey)
	write("int.pem", "CERTIFICATE", in.Raw)
	for _, h := range hosts {
		c, k := issue(&x509.Certificate{Subject: pkix.Name{Organization: []string{"iked fragment test"}, CommonName: h},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP(h)}}, in, inKey)
		write(h+".pem", "CERTIFICATE", c.Raw)
		write(h+".key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	}
	return dir
}

// certPolicy is a stacktest policy authenticated by dir's chain.
func certPolicy(dir, host, fragmentation string) stacktest.Policy {
	return stacktest.Policy{
		Certificates: fmt.Sprintf("ca: {file: %s, trusted: true}\nint: {file: %s, trusted: true}\nme: {file: %s, private-key: %s}",
			filepath.Join(dir, "ca.pem"), filepath.Join(dir, "int.pem"), filepath.Join(dir, host+".pem"), filepath.Join(dir, host+".key")),
		Auth:          "auth: certificate, certificate: me",
		Fragmentation: fragmentation,
	}
}

// TestFragmentsCrossASmallPath: two daemons authenticate with a chain
// of certificates over a network that loses every datagram over 1280
// bytes of IP. With fragmentation (both yes, or force against yes or no)
// Main Mode 5 and 6 go in fragments and phase 1 and Quick Mode complete;
// without it on the side that sends (no against yes), the large message
// never arrives and phase 1 fails.
func TestFragmentsCrossASmallPath(t *testing.T) {
	dir := chainPKI(t, stacktest.HostA, stacktest.HostB)
	for _, tc := range []struct {
		a, b string // the initiator's and the responder's fragmentation
		mode string
		up   bool
	}{
		{"", "", "main", true},
		{"", "", "aggressive", true}, // AM2 and AM3 carry the certificates
		{"force", "yes", "main", true},
		{"yes", "no", "main", false}, // B neither announces nor sends: MM6 is lost
		{"no", "yes", "main", false}, // A neither announces nor sends: MM5 is lost
		{"force", "no", "main", false},
	} {
		t.Run(tc.mode+"-"+tc.a+"-"+tc.b, func(t *testing.T) {
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				nw.SetDrop(func(s daemontest.Sent) bool { return len(s.Data) > pathPayload })
				pa, pb := certPolicy(dir, stacktest.HostA, tc.a), certPolicy(dir, stacktest.HostB, tc.b)
				pa.Mode, pb.Mode = tc.mode, tc.mode
				a, b := stacktest.Pair(t, pa, stacktest.Options{Net: nw}, pb, stacktest.Options{Net: nw})
				a.Ctl(t, control.CmdInitiate, "link")
				lost := func() int { return nw.Count(func(s daemontest.Sent) bool { return s.Lost }) }
				if !tc.up {
					time.Sleep(10 * time.Second) // every retransmission (500 ms, three tries)
					if len(a.Engine.SAs()) != 0 || len(b.Engine.SAs()) != 0 || lost() == 0 {
						t.Fatalf("IPsec SAs %d and %d, %d datagrams lost: the path should have stopped phase 1", len(a.Engine.SAs()), len(b.Engine.SAs()), lost())
					}
					return
				}
				a.WaitSAs(t, 2, 10*time.Second)
				b.WaitSAs(t, 2, 10*time.Second)
				if lost() != 0 {
					t.Errorf("%d datagrams over the path's size were sent", lost())
				}
				// Every fragment names the phase 1 exchange, with message
				// ID 0 (as strongSwan's do).
				phase1 := isakmp.ExchangeMain
				if tc.mode == "aggressive" {
					phase1 = isakmp.ExchangeAggressive
				}
				frags := nw.Count(func(s daemontest.Sent) bool {
					h, err := isakmp.ParseHeader(s.Data)
					if err != nil || h.NextPayload != isakmp.PayloadFragment {
						return false
					}
					if h.Exchange != phase1 || h.MessageID != 0 {
						t.Errorf("a fragment of exchange %s, message ID %#x", h.Exchange, h.MessageID)
					}
					return true
				})
				if frags < 4 {
					t.Errorf("%d fragments crossed the network", frags)
				}
				for _, n := range []*stacktest.Node{a, b} {
					ct := &n.Daemon.Counters
					if ct.Fragmented.Load() == 0 || ct.Reassembled.Load() == 0 || ct.FragmentsSent.Load() < 2 ||
						ct.FragmentsReceived.Load() < 2 || ct.DroppedTotal() != 0 {
						t.Errorf("fragmented %d (%d fragments), reassembled %d (%d fragments), dropped %d",
							ct.Fragmented.Load(), ct.FragmentsSent.Load(), ct.Reassembled.Load(), ct.FragmentsReceived.Load(), ct.DroppedTotal())
					}
					if len(n.Records(t, "reassembled a message from fragments", 0)) == 0 || len(n.Records(t, "sending a message in fragments", 0)) == 0 {
						t.Error("no debug line for the fragments")
					}
				}
			})
		})
	}
}

// TestFragmentRetransmitted: the first copy of MM5's second fragment is
// lost. The responder holds the first fragment; the initiator's
// retransmission sends every fragment again under a new fragment ID, the
// responder discards what it held (counted stale) and reassembles the new
// set.
func TestFragmentRetransmitted(t *testing.T) {
	dir := chainPKI(t, stacktest.HostA, stacktest.HostB)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		lostOne := false
		nw.SetDrop(func(s daemontest.Sent) bool {
			if len(s.Data) > pathPayload {
				return true
			}
			m, err := isakmp.Decode(s.Data)
			if err != nil || lostOne || s.From.Addr().String() != stacktest.HostA {
				return false
			}
			if f, ok := m.Find(isakmp.PayloadFragment).(*isakmp.Fragment); ok && f.Number == 2 {
				lostOne = true
				return true
			}
			return false
		})
		a, b := stacktest.Pair(t, certPolicy(dir, stacktest.HostA, ""), stacktest.Options{Net: nw},
			certPolicy(dir, stacktest.HostB, ""), stacktest.Options{Net: nw})
		a.Ctl(t, control.CmdInitiate, "link")
		a.WaitSAs(t, 2, 10*time.Second)
		b.WaitSAs(t, 2, 10*time.Second)
		if !lostOne || a.Daemon.Counters.Retransmits.Load() == 0 {
			t.Fatalf("lost %v, retransmits %d", lostOne, a.Daemon.Counters.Retransmits.Load())
		}
		if n := b.Daemon.Counters.Dropped(daemon.DropFragmentStale); n == 0 {
			t.Errorf("stale fragments %d, want the held first fragment counted", n)
		}
	})
}
