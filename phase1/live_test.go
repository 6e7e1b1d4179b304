package phase1

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
)

// Live interop: our exchanges, driven by a minimal loop over a real UDP
// socket in a network namespace, against strongSwan 5.9's charon in
// another (interop's harness). Skipped unless root with strongSwan
// installed. Namespaces are named p1… (this package's prefix).

func init() { interop.Prefix = "p1" }

// liveLoop drives x over conn until it is established or failed: it sends
// what the exchange asks, runs Work at once, retransmits an unanswered
// request every 500 ms (5 times) and feeds what arrives from peer.
func liveLoop(t *testing.T, x *Exchange, first []byte, st daemon.Result, conn *net.UDPConn, peer netip.AddrPort, newX func([]byte) (*Exchange, daemon.Result)) *Exchange {
	t.Helper()
	env := testEnv()
	var last []byte
	tries := 0
	buf := make([]byte, 65536)
	handle := func(st daemon.Result) {
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
			var st daemon.Result
			x, st = newX(data)
			if x == nil {
				t.Logf("first message refused: %v %v", st.Reject, st.Log)
				if st.Send != nil {
					conn.WriteToUDPAddrPort(st.Send, peer)
				}
				return nil
			}
			handle(st)
			continue
		}
		st := x.Consume(env, data)
		if st.Reject != nil {
			t.Logf("dropped: %v", st.Reject)
		}
		for _, m := range st.Log {
			t.Logf("log %d: %s", m.Num, m.Text)
		}
		last = nil
		handle(st)
	}
	if x != nil {
		t.Logf("live negotiation timed out in %s", x.SA.State)
	}
	return x
}

type liveCase struct {
	name       string
	aggressive bool
	auth       string // psk | rsa | p256
	// ours and theirs: our cipher/hash/group lists and charon's proposal;
	// empty: aes128-sha256-modp2048.
	ciphers, hashes, groups, proposal string
	idKind                            string // fqdn (default), ipv4, dn
	// wrong: a failure case: "psk" (different keys) or "proposal".
	wrong string
	// rekey is charon's IKE rekey_time (it proposes 110 % of it), minLife
	// our phase1-lifetime-min.
	rekey   time.Duration
	minLife string
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
		{name: "mm-psk", auth: "psk"},
		{name: "am-psk", aggressive: true, auth: "psk"},
		{name: "mm-rsa-dn", auth: "rsa", idKind: "dn"},
		{name: "mm-ecdsa", auth: "p256"},
		{name: "mm-psk-3des-sha1-modp1024-ipv4", auth: "psk", ciphers: "3des", hashes: "sha1", groups: "modp1024", proposal: "3des-sha1-modp1024", idKind: "ipv4"},
		{name: "mm-psk-aes256-ecp256", auth: "psk", ciphers: "aes256", groups: "ecp256", proposal: "aes256-sha256-ecp256"},
		{name: "mm-psk-ecp384", auth: "psk", groups: "ecp384", hashes: "sha1", proposal: "aes128-sha1-ecp384"},
		{name: "mm-psk-lifetime-min", auth: "psk", rekey: 2 * time.Minute, minLife: "10m"},
		{name: "mm-wrong-psk", auth: "psk", wrong: "psk"},
		{name: "mm-no-proposal", auth: "psk", ciphers: "aes256", proposal: "aes128-sha256-modp2048", wrong: "proposal"},
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
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	ourID, theirID := "fqdn:a.example.org", "fqdn:b.example.org"
	switch c.idKind {
	case "ipv4":
		ourID, theirID = "ipv4:"+us.Addr.String(), "ipv4:"+them.Addr.String()
	case "dn":
		ourID, theirID = "dn:C=FI, O=Phase1 Test, CN=a.example.org", "dn:C=FI, O=Phase1 Test, CN=b.example.org"
	}
	strip := func(id string) string { _, v, _ := strings.Cut(id, ":"); return v }
	ours := side{mode: mode, auth: c.auth, psk: "live h8 secret", ciphers: or(c.ciphers, "aes128"), hashes: or(c.hashes, "sha256"),
		groups: or(c.groups, "modp2048"), self: "a", local: us.Addr, remote: them.Addr, localID: ourID, remoteID: theirID,
		minLife: c.minLife,
		// The exchange runs on a bare socket, without the daemon's
		// reassembly (daemon/reassembly.go): charon must not fragment.
		fragmentation: "no"}
	conn := interop.Connection{Aggressive: c.aggressive, LocalAddrs: them.Addr.String(), RemoteAddrs: us.Addr.String(),
		Proposals: or(c.proposal, "aes128-sha256-modp2048"), LocalID: strip(theirID), RemoteID: strip(ourID),
		Children: []interop.Child{{LocalTS: them.Addr.String() + "/32", RemoteTS: us.Addr.String() + "/32", ESPProposals: "aes128-sha256"}}}
	conn.RekeyTime = c.rekey
	opt := interop.CharonOptions{Extra: "i_dont_care_about_security_and_use_aggressive_mode_psk = yes"}
	if c.auth == "psk" {
		psk := ours.psk
		if c.wrong == "psk" {
			psk = "another secret"
		}
		opt.Secrets = []interop.Secret{{IDs: []string{strip(ourID), strip(theirID)}, PSK: []byte(psk)}}
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
		var st daemon.Result
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
		x = liveLoop(t, nil, nil, daemon.Result{}, udp, peer, func(b []byte) (*Exchange, daemon.Result) {
			m, err := isakmp.Decode(b)
			if err != nil {
				return nil, daemon.Result{Reject: err}
			}
			return NewResponder(testEnv(), cfg, m.Header.InitiatorCookie, [8]byte{0x68, 0x38, 9, 9, 9, 9, 9, 9}, local, peer, b)
		})
	}
	if c.wrong != "" {
		if x != nil && x.SA.State == StateEstablished {
			t.Fatal("established despite the " + c.wrong + " mismatch")
		}
		if _, err := charon.WaitIKE("ike", "ESTABLISHED", 2*time.Second); err == nil {
			t.Fatal("charon established despite the " + c.wrong + " mismatch")
		}
		if x != nil {
			t.Logf("failed as expected: %s", x.SA.FailReason)
		}
		// What charon says: it answers a wrong key with N(PLD_MAL), as we
		// do, and names NO_PROPOSAL_CHOSEN as N(NO_PROP) both ways.
		want := map[string]string{"proposal": "NO_PROP", "psk": "N(PLD_MAL)"}[c.wrong]
		if weInitiate || c.wrong == "proposal" {
			if !strings.Contains(charon.Log(), want) {
				t.Errorf("charon's log does not mention %s:\n%s", want, ikeLines(charon.Log()))
			}
		}
		return
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
	}{{"SKEYID_d", x.SA.keys.SKEYIDd}, {"SKEYID_a", x.SA.keys.SKEYIDa}, {"SKEYID_e", x.SA.keys.SKEYIDe}} {
		v := keys.Find(k.title)
		if len(v) == 0 || !bytes.Equal(v[len(v)-1], k.ours) {
			t.Errorf("%s differs from charon's", k.title)
		}
	}
	if c.minLife != "" && !weInitiate && x.SA.Transform.LifeSeconds != 600 {
		t.Errorf("lifetime %d s, want the 600 s minimum", x.SA.Transform.LifeSeconds)
	}
	t.Logf("established with charon: %s, %s/%s, %s", x.SA.Transform, sa.EncrAlg, sa.DHGroup, x.SA.RemoteIDText)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// ikeLines keeps charon's IKE, ENC and NET lines without hex dumps.
func ikeLines(log string) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		if (strings.Contains(l, "[IKE]") || strings.Contains(l, "[ENC]") || strings.Contains(l, "[NET]")) &&
			!strings.Contains(l, "=>") && !strings.Contains(l, "]   ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
