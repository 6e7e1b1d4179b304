package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/interop"
)

// Live tests of an ISAKMP SA's life in the real iked binary against
// strongSwan 5.9's charon, in namespaces made by package interop (prefix
// ik, this package's). They skip without root and strongSwan.

func init() { interop.Prefix = "ik" }

// liveIked is the iked binary running in a namespace.
type liveIked struct {
	proc *interop.Process
	sock string
}

// startLiveIked writes the policy (its control socket is filled in) and
// runs iked with the keys log level in ns.
func startLiveIked(t *testing.T, ns *interop.Namespace, policy func(sock string) string) *liveIked {
	t.Helper()
	iked, _ := binaries(t)
	dir, err := os.MkdirTemp("", "ikedlive-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	k := &liveIked{sock: filepath.Join(dir, "iked.sock")}
	conf := filepath.Join(dir, "iked.yaml")
	text := policy(k.sock)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(iked, "-check", "-config", conf).CombinedOutput(); err != nil {
		t.Fatalf("iked -check: %v\n%s\n%s", err, out, text)
	}
	k.proc = ns.Start(t, nil, iked, "-config", conf, "-debug", "debug")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := k.call(control.CmdStatus, ""); err == nil {
			return k
		}
		if done, err := k.proc.Exited(); done {
			t.Fatalf("iked exited (%v):\n%s", err, k.proc.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("iked: no control socket:\n%s", k.proc.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *liveIked) call(cmd control.Command, name string) (*control.Response, error) {
	r, err := control.Call(k.sock, control.Request{Command: cmd, Name: name}, 5*time.Second)
	if err == nil && r.Error != "" {
		err = fmt.Errorf("%s", r.Error)
	}
	return r, err
}

func (k *liveIked) established() []control.SA {
	r, err := k.call(control.CmdListSAs, "")
	if err != nil {
		return nil
	}
	var out []control.SA
	for _, sa := range r.SAs {
		if sa.Established {
			out = append(out, sa)
		}
	}
	return out
}

const livePSK = "live lifetime key"

// livePolicy is iked's side: a PSK Main Mode connection to peer with the
// given ISAKMP lifetime, DPD off, no Quick Mode proposal list use.
func livePolicy(local, peer, sock, lifetime string) string {
	return fmt.Sprintf(`daemon:
  listen: [%q]
  engine: none
  control-socket: %q
  phase1-lifetime-min: 10s
  retransmit: {timeout: 1s, tries: 3}
  dpd: {delay: 0s, timeout: 0s}
  log: {level: debug, format: json}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048], lifetime: %s}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  default: [esp]
connections:
  peer:
    local-address: 203.0.113.1/32
    remote-address: 203.0.113.129/32
    local-gw: %q
    remote-gw: %q
    initiate: never
    ike: {mode: main, transforms: [ike], auth: psk, psk: %q, local-id: "ipv4:%s", remote-id: "ipv4:%s"}
    proposal-list: default
`, local, sock, lifetime, local, peer, livePSK, local, peer)
}

// TestLiveLifetimeExpiry: iked initiates with an ISAKMP lifetime of 20 s,
// which charon (responder) accepts. When it ends, iked deletes the SA and
// tells charon with a Delete payload; charon acts on it: swanctl
// --list-sas no longer shows the IKE SA. charon forgets the PSK after
// establishment, so iked's reauthentication before the lifetime ends
// (phase1/reauth.go) fails first, which leaves the expiry as it was.
func TestLiveLifetimeExpiry(t *testing.T) {
	interop.RequireStrongSwan(t)
	p := interop.NewPair(t)
	c := interop.StartCharon(t, p.B.NS, interop.CharonOptions{
		Connections: []interop.Connection{{
			LocalAddrs: p.B.Addr.String(), RemoteAddrs: p.A.Addr.String(), Proposals: "aes128-sha256-modp2048",
			LocalID: p.B.Addr.String(), RemoteID: p.A.Addr.String(),
		}},
		Secrets: []interop.Secret{{IDs: []string{p.A.Addr.String(), p.B.Addr.String()}, PSK: []byte(livePSK)}},
	})
	k := startLiveIked(t, p.A.NS, func(sock string) string {
		return livePolicy(p.A.Addr.String(), p.B.Addr.String(), sock, "20s")
	})
	if _, err := k.call(control.CmdInitiate, "peer"); err != nil {
		t.Fatal(err)
	}
	sa, err := c.WaitIKE("ike", "ESTABLISHED", 15*time.Second)
	if err != nil {
		t.Fatalf("charon: %v\niked:\n%s", err, k.proc.Output())
	}
	start := time.Now()
	// charon, the responder, counts the SA established once it has sent
	// MM6; iked does once MM6 has arrived and verified, a moment later.
	est := k.established()
	for deadline := time.Now().Add(5 * time.Second); len(est) != 1 && time.Now().Before(deadline); est = k.established() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(est) != 1 {
		t.Fatalf("iked has %d established SAs", len(est))
	}
	// charon forgets the PSK, so iked's reauthentication (at 17 to 18 s)
	// fails and the SA ends at its lifetime, as without one.
	noSecrets := filepath.Join(t.TempDir(), "nosecrets.conf")
	if err := os.WriteFile(noSecrets, []byte("secrets {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Swanctl("--load-creds", "--clear", "--noprompt", "--file", noSecrets); err != nil {
		t.Fatalf("charon: clear credentials: %v\n%s", err, out)
	}
	// Half-way the SA is up on both sides.
	time.Sleep(10 * time.Second)
	if _, err := c.WaitIKE("ike", "ESTABLISHED", time.Second); err != nil {
		t.Fatalf("charon lost the SA before its lifetime: %v", err)
	}
	deadline := start.Add(30 * time.Second)
	for {
		sas, err := c.ListSAs()
		gone := err == nil && len(sas) == 0
		if gone && len(k.established()) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after establishment: charon %+v, iked %+v\niked:\n%s\ncharon:\n%s", sas, k.established(), k.proc.Output(), c.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	if took < 18*time.Second {
		t.Errorf("SA gone %v after establishment, before its 20 s lifetime", took)
	}
	out := k.proc.Output()
	if !strings.Contains(out, "lifetime expired") {
		t.Errorf("iked's log does not say the lifetime expired:\n%s", out)
	}
	if !strings.Contains(out, "reauthenticating ISAKMP SA") || !strings.Contains(out, "reauthentication failed") {
		t.Errorf("iked's log does not show the failed reauthentication:\n%s", out)
	}
	if log := c.Log(); !strings.Contains(log, "received DELETE for IKE_SA") && !strings.Contains(log, "DELETE for IKE_SA") {
		t.Errorf("charon did not log iked's Delete:\n%s", tail(log, 40))
	}
	t.Logf("IKE SA %s gone from both sides %v after establishment", sa.InitiatorSPI, took.Round(100*time.Millisecond))
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
