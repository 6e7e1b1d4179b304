package phase1

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
)

// Live interop: our exchanges, driven by a minimal loop over a real UDP
// socket in a network namespace, against strongSwan 5.9's charon in
// another (interop's harness). Skipped unless root with strongSwan
// installed. Namespaces are named h8… (this package's prefix).

func init() { interop.Prefix = "h8" }

// liveLoop drives x over conn until it is established or failed: it sends
// what the exchange asks, runs Work at once, retransmits an unanswered
// request every 500 ms (5 times) and feeds what arrives from peer.
func liveLoop(t *testing.T, x *Exchange, first []byte, st Step, conn *net.UDPConn, peer netip.AddrPort, newX func([]byte) (*Exchange, Step)) *Exchange {
	t.Helper()
	env := testEnv()
	var last []byte
	tries := 0
	buf := make([]byte, 65536)
	handle := func(st Step) {
		for {
			if st.Send != nil {
				if _, err := conn.WriteToUDPAddrPort(st.Send, peer); err != nil {
					t.Fatal(err)
				}
				if st.Request {
					last, tries = st.Send, 0
				}
			}
			if st.Work == nil {
				return
			}
			st = x.Resume(env, st.Work())
		}
	}
	if x != nil {
		handle(st)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if x != nil && (x.SA.State == StateEstablished || x.SA.State == StateFailed) {
			return x
		}
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if last != nil && tries < 5 {
					tries++
					conn.WriteToUDPAddrPort(last, peer)
				}
				continue
			}
			t.Fatal(err)
		}
		if from.Addr().Unmap() != peer.Addr() {
			continue
		}
		data := append([]byte(nil), buf[:n]...)
		if x == nil {
			var st Step
			x, st = newX(data)
			if x == nil {
				t.Fatalf("first message refused: %v %v", st.Reject, st.Log)
			}
			handle(st)
			continue
		}
		st := x.Consume(env, data)
		if st.Reject != nil {
			t.Logf("dropped: %v", st.Reject)
		}
		if len(st.Log) > 0 {
			t.Logf("log: %v", st.Log)
		}
		last = nil
		handle(st)
	}
	t.Fatal("live negotiation timed out")
	return nil
}

type liveCase struct {
	name       string
	aggressive bool
	auth       string // psk | rsa | p256
}

// TestLiveStrongSwan negotiates phase 1 with charon in both roles for PSK
// (Main and Aggressive Mode), RSA and ECDSA P-256 certificates, and checks
// that charon reports the IKE SA ESTABLISHED with the same cookies and
// logged the same SKEYID_d/_a/_e as we derived.
func TestLiveStrongSwan(t *testing.T) {
	interop.RequireStrongSwan(t)
	if testing.Short() {
		t.Skip("live strongSwan runs")
	}
	for _, c := range []liveCase{
		{"mm-psk", false, "psk"}, {"am-psk", true, "psk"}, {"mm-rsa", false, "rsa"}, {"mm-ecdsa", false, "p256"},
	} {
		for _, weInitiate := range []bool{true, false} {
			role := "iked-responder"
			if weInitiate {
				role = "iked-initiator"
			}
			t.Run(c.name+"/"+role, func(t *testing.T) { liveRun(t, c, weInitiate) })
		}
	}
}

func liveRun(t *testing.T, c liveCase, weInitiate bool) {
	p := interop.NewPair(t)
	us, them := p.A, p.B
	mode := "main"
	if c.aggressive {
		mode = "aggressive"
	}
	ours := side{mode: mode, auth: c.auth, psk: "live h8 secret", ciphers: "aes128", hashes: "sha256", groups: "modp2048",
		self: "a", local: us.Addr, remote: them.Addr, localID: "fqdn:a.example.org", remoteID: "fqdn:b.example.org"}
	conn := interop.Connection{Aggressive: c.aggressive, LocalAddrs: them.Addr.String(), RemoteAddrs: us.Addr.String(),
		Proposals: "aes128-sha256-modp2048", LocalID: "b.example.org", RemoteID: "a.example.org",
		Children: []interop.Child{{LocalTS: them.Addr.String() + "/32", RemoteTS: us.Addr.String() + "/32", ESPProposals: "aes128-sha256"}}}
	opt := interop.CharonOptions{Extra: "i_dont_care_about_security_and_use_aggressive_mode_psk = yes"}
	if c.auth == "psk" {
		opt.Secrets = []interop.Secret{{IDs: []string{"a.example.org", "b.example.org"}, PSK: []byte(ours.psk)}}
	} else {
		ca := "ca-rsa"
		if c.auth != "rsa" {
			ca = "ca-ec"
		}
		dir, _ := filepath.Abs(filepath.Join("testdata", "pki"))
		conn.LocalAuth, conn.RemoteAuth, conn.LocalCert = "pubkey", "pubkey", c.auth+"-b.pem"
		opt.Credentials = interop.Credentials{CACerts: []string{filepath.Join(dir, ca+".pem")},
			Certs: []string{filepath.Join(dir, c.auth+"-b.pem")}, Keys: []string{filepath.Join(dir, c.auth+"-b.key")}}
	}
	opt.Connections = []interop.Connection{conn}
	charon := interop.StartCharon(t, them.NS, opt)
	pol := policyFor(t, ours)
	cfg := Config{Policy: pol, Hooks: NewHooks(NATTConfig{Port: 0})}

	var udp *net.UDPConn
	if err := us.NS.Do(func() error {
		var err error
		udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(us.Addr, 500)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	local, peer := netip.AddrPortFrom(us.Addr, 500), netip.AddrPortFrom(them.Addr, 500)
	var x *Exchange
	if weInitiate {
		cn, _ := pol.Connection("c")
		var st Step
		var err error
		x, st, err = NewInitiator(testEnv(), cfg, cn, [8]byte{0x68, 0x38, 1, 2, 3, 4, 5, 6}, local, peer)
		if err != nil {
			t.Fatal(err)
		}
		x = liveLoop(t, x, nil, st, udp, peer, nil)
	} else {
		go func() {
			if err := charon.Initiate("c", 20*time.Second); err != nil {
				t.Logf("charon initiate: %v", err)
			}
		}()
		x = liveLoop(t, nil, nil, Step{}, udp, peer, func(b []byte) (*Exchange, Step) {
			m, err := isakmp.Decode(b)
			if err != nil {
				return nil, Step{Reject: err}
			}
			return NewResponder(testEnv(), cfg, m.Header.InitiatorCookie, [8]byte{0x68, 0x38, 9, 9, 9, 9, 9, 9}, local, peer, b)
		})
	}
	if x.SA.State != StateEstablished {
		t.Fatalf("we did not establish: %s (%s)", x.SA.State, x.SA.FailReason)
	}
	sa, err := charon.WaitIKE("ike", "ESTABLISHED", 10*time.Second)
	if err != nil {
		t.Fatalf("charon: %v\n%s", err, tail(charon.Log()))
	}
	if sa.Initiator == weInitiate {
		t.Errorf("charon's role: initiator=%v", sa.Initiator)
	}
	keys, err := charon.Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		title string
		ours  []byte
	}{{"SKEYID_d", x.SA.Keys.SKEYIDd}, {"SKEYID_a", x.SA.Keys.SKEYIDa}, {"SKEYID_e", x.SA.Keys.SKEYIDe}} {
		v := keys.Find(k.title)
		if len(v) == 0 || !bytes.Equal(v[len(v)-1], k.ours) {
			t.Errorf("%s differs from charon's", k.title)
		}
	}
	t.Logf("established with charon: %s, %s/%s, %s", x.SA.Transform, sa.EncrAlg, sa.DHGroup, x.SA.RemoteIDText)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

var _ = os.Getpid
