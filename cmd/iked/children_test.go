package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// In-process tests of the IPsec SAs' life with the wiring iked runs
// (registerExchanges): two daemons, memory engines, the in-memory network
// of life_test.go, virtual time. ikectl's answers come from
// daemon.Control, the handler behind the control socket.

const childPolicy = `daemon:
  listen: ["%[1]s"]
  natt-port: 0
  engine: none
  control-socket: %[4]s
  retransmit: {timeout: 500ms, tries: 3}
  dpd: {delay: 10s, timeout: 30s}
  phase2-lifetime-min: 1s
  log: {level: keys, format: json}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
connections:
  link:
    local-address: %[1]s
    remote-address: %[2]s
    initiate: %[3]s
    ike: {mode: main, transforms: [ike], auth: psk, psk: "h13 children test key"}
    proposal-list: qm
    lifetime: %[5]s
    lifetime-kbytes: %[6]d
`

// childOpts vary a node: the phase 2 lifetimes, and goodbye sends only the
// ISAKMP SA's Delete (as charon after a reauthentication moved the
// children to a new IKE_SA).
type childOpts struct {
	lifetime   string
	kbytes     int
	isakmpOnly bool
	// ikeLifetime, when set, is the ISAKMP SA's lifetime (the ike
	// transform's).
	ikeLifetime string
}

func startChildNode(t *testing.T, nw *memNet, local, remote, initiate string, o childOpts) *lifeNode {
	t.Helper()
	if o.lifetime == "" {
		o.lifetime = "1h"
	}
	n := &lifeNode{back: memory.New(memory.Options{}), log: &lockedBuffer{}}
	dir := t.TempDir()
	conf := filepath.Join(dir, "iked.yaml")
	text := fmt.Sprintf(childPolicy, local, remote, initiate, filepath.Join(dir, "unused.sock"), o.lifetime, o.kbytes)
	if o.ikeLifetime != "" {
		text = strings.Replace(text, "groups: [modp2048]}", "groups: [modp2048], lifetime: "+o.ikeLifetime+"}", 1)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(conf, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "keys", Format: "json"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	var backend engine.Backend
	n.d = daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			backend = n.back
			return engine.New(n.back, engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   nw,
		Log:       lg,
		LogLevel:  "keys",
		Workers:   1,
		NoControl: true,
	})
	registerExchanges(n.d, p.Daemon).Traffic = trafficOf(&backend)
	if o.isakmpOnly {
		n.d.RegisterDeleter(phase1.NewInfoHandler(phase1.DPDConfig{}))
	}
	if err := n.d.Start(); err != nil {
		t.Fatalf("start: %v\n%s", err, n.log.String())
	}
	t.Cleanup(n.d.Stop)
	return n
}

func (n *lifeNode) ctl(t *testing.T, cmd control.Command, name string) control.Response {
	t.Helper()
	r := n.d.Control(control.Request{Command: cmd, Name: name})
	if r.Error != "" {
		t.Fatalf("%s %s: %s\n%s", cmd, name, r.Error, n.log.String())
	}
	return r
}

// spis returns the SPIs the engine holds, inbound and outbound, as
// list-sas prints them.
func (n *lifeNode) spis() (in, out map[string]bool) {
	in, out = map[string]bool{}, map[string]bool{}
	for _, r := range n.back.SAs() {
		s := fmt.Sprintf("0x%08x", r.Ref.SPI)
		if r.Inbound {
			in[s] = true
		} else {
			out[s] = true
		}
	}
	return in, out
}

// checkListed: every IPsec SA the engine holds is in children, in its
// direction, and nothing else is.
func checkListed(t *testing.T, n *lifeNode, children []control.ChildSA) {
	t.Helper()
	in, out := n.spis()
	listed := 0
	for _, ch := range children {
		for _, s := range ch.SAs {
			listed++
			if (s.Direction == "in" && !in[s.SPI]) || (s.Direction == "out" && !out[s.SPI]) {
				t.Errorf("list-sas shows %s SA %s that the engine does not hold (in %v out %v)", s.Direction, s.SPI, in, out)
			}
		}
	}
	if listed != len(in)+len(out) {
		t.Errorf("list-sas shows %d IPsec SAs, the engine holds %d", listed, len(in)+len(out))
	}
}

// TestWiringListSAsShowsChildren: after A initiates, `ikectl list-sas`
// on each side shows the ISAKMP SA with one bundle under it: the SPIs the
// engine holds in each direction, transport mode between the two hosts, ESP with AES-128 and HMAC-SHA2-256, the selectors, the
// lifetimes counting down in virtual time, the bytes the engine counted;
// the JSON answer holds no key.
func TestWiringListSAsShowsChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		b := startChildNode(t, nw, "192.0.2.2", "192.0.2.1", "never", childOpts{})
		a := startChildNode(t, nw, "192.0.2.1", "192.0.2.2", "start", childOpts{})
		a.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, time.Second)
		var outRef engine.SARef
		for _, r := range a.back.SAs() {
			if !r.Inbound {
				outRef = r.Ref
			}
		}
		if err := a.back.Account(outRef, 1500); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		for _, n := range []*lifeNode{a, b} {
			r := n.ctl(t, control.CmdListSAs, "")
			if len(r.SAs) != 1 || len(r.SAs[0].Children) != 1 || len(r.Detached) != 0 {
				t.Fatalf("list-sas: %+v", r)
			}
			ch := r.SAs[0].Children[0]
			checkListed(t, n, r.SAs[0].Children)
			if ch.Conn != "link" || ch.Mode != "transport" || ch.State != "installed" || ch.LifeSeconds != 3600 ||
				ch.ExpiresIn == nil || *ch.ExpiresIn+ch.Age != time.Hour || ch.RekeyIn == nil || ch.Age < 10*time.Minute ||
				ch.LocalTS != n.d.Settings().Listen[0].String()+"/32" || ch.Encap != "" || len(ch.SAs) != 2 {
				t.Errorf("child: %+v", ch)
			}
			wantRole, wantRekey := "initiator", 3240
			if n == b {
				wantRole, wantRekey = "responder", 3420
			}
			if ch.Role != wantRole || *ch.RekeyIn+ch.Age != time.Duration(wantRekey)*time.Second {
				t.Errorf("role %s rekey in %v, want %s %ds", ch.Role, *ch.RekeyIn, wantRole, wantRekey)
			}
			for _, s := range ch.SAs {
				if s.Protocol != "esp" || s.Encryption != "ESP_AES/128 cbc(aes)" || s.Integrity != "HMAC-SHA2-256 hmac(sha256)/128" || s.Bytes == nil {
					t.Errorf("SA: %+v", s)
				}
				if n == a && s.Direction == "out" && *s.Bytes != 1500 {
					t.Errorf("A's outbound SA counted %d bytes, want 1500", *s.Bytes)
				}
			}
			js, _ := json.Marshal(r)
			for _, rec := range n.back.SAs() {
				for _, k := range [][]byte{rec.SA.Encryption.Key, rec.SA.Integrity.Key} {
					if strings.Contains(string(js), hex.EncodeToString(k)) {
						t.Errorf("list-sas JSON holds a key of %s", rec.Ref)
					}
				}
			}
		}
	})
}

// TestWiringPeerDeleteKeepsChildren: B says goodbye with the ISAKMP SA's
// Delete alone (as charon does after moving the CHILD_SAs to a new
// IKE_SA). A forgets the ISAKMP SA but keeps the IPsec SAs in its engine,
// lists them as detached, and a new ISAKMP SA of the connection with B
// adopts them: listed under it next to the new bundle.
func TestWiringPeerDeleteKeepsChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		b := startChildNode(t, nw, "192.0.2.2", "192.0.2.1", "never", childOpts{isakmpOnly: true})
		a := startChildNode(t, nw, "192.0.2.1", "192.0.2.2", "never", childOpts{})
		a.ctl(t, control.CmdInitiate, "link")
		a.waitSAs(t, 2, 30*time.Second)
		first := a.ctl(t, control.CmdListSAs, "").SAs[0].Children[0]
		b.ctl(t, control.CmdTerminate, "link")
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && len(a.ctl(t, control.CmdListSAs, "").SAs) > 0; {
			time.Sleep(100 * time.Millisecond)
		}
		r := a.ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 0 || len(r.Detached) != 1 || r.Detached[0].MessageID != first.MessageID {
			t.Fatalf("after the peer's ISAKMP Delete: %+v\n%s", r, a.log.String())
		}
		checkListed(t, a, r.Detached)
		if n := len(a.back.SAs()); n != 2 {
			t.Fatalf("A's engine holds %d IPsec SAs after the peer's ISAKMP Delete, want 2", n)
		}
		a.ctl(t, control.CmdInitiate, "link")
		a.waitSAs(t, 4, 30*time.Second)
		r = a.ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 1 || len(r.Detached) != 0 || len(r.SAs[0].Children) != 2 || r.SAs[0].Children[0].MessageID != first.MessageID {
			t.Fatalf("after a new ISAKMP SA: %+v", r)
		}
		checkListed(t, a, r.SAs[0].Children)
	})
}

// TestWiringResponderRekeys: the responder's volume soft limit comes
// first (its peer sent 960 KB of 1000): the responder, after its moment
// of grace, negotiates the new bundle as Quick Mode initiator and deletes
// the old one on both sides.
func TestWiringResponderRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		opts := childOpts{kbytes: 1000}
		b := startChildNode(t, nw, "192.0.2.2", "192.0.2.1", "never", opts)
		a := startChildNode(t, nw, "192.0.2.1", "192.0.2.2", "start", opts)
		a.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, time.Second)
		oldIn, oldOut := b.spis()
		var in engine.SARef
		for _, r := range b.back.SAs() {
			if r.Inbound {
				in = r.Ref
				if r.Lifetime.SoftKBytes != 950 || r.Lifetime.HardKBytes != 1000 {
					t.Fatalf("responder's volume limits %+v, want soft 950 hard 1000 KB", r.Lifetime)
				}
			}
		}
		if err := b.back.Account(in, 960*1024); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		for _, n := range []*lifeNode{a, b} {
			n.waitSAs(t, 2, time.Second)
			nin, nout := n.spis()
			for s := range nin {
				if oldIn[s] || oldOut[s] {
					t.Errorf("old SA %s still installed", s)
				}
			}
			for s := range nout {
				if oldIn[s] || oldOut[s] {
					t.Errorf("old SA %s still installed", s)
				}
			}
			ch := n.ctl(t, control.CmdListSAs, "").SAs[0].Children
			if len(ch) != 1 {
				t.Fatalf("%d bundles listed", len(ch))
			}
			want := "initiator"
			if n == a {
				want = "responder"
			}
			if ch[0].Role != want {
				t.Errorf("the new bundle's role is %s, want %s (the old responder rekeyed)", ch[0].Role, want)
			}
		}
		if !strings.Contains(b.log.String(), `"msg":"IPsec SA reached its soft lifetime: rekeying","conn":"link","role":"responder"`) ||
			!strings.Contains(a.log.String(), "Requested to delete SA ESP[0x") {
			t.Errorf("B:\n%s\nA:\n%s", b.log.String(), a.log.String())
		}
	})
}

// TestWiringInitiatorRekeysFirst: with a 20 s lifetime the initiator's
// soft limit (18 s) comes before the responder's (19 s): exactly one
// rekey happens, by the initiator, and each side then holds one bundle.
func TestWiringInitiatorRekeysFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		opts := childOpts{lifetime: "20s"}
		b := startChildNode(t, nw, "192.0.2.2", "192.0.2.1", "never", opts)
		a := startChildNode(t, nw, "192.0.2.1", "192.0.2.2", "start", opts)
		a.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, time.Second)
		old, _ := a.spis()
		time.Sleep(19500 * time.Millisecond)
		for _, n := range []*lifeNode{a, b} {
			n.waitSAs(t, 2, time.Second)
			if c := strings.Count(n.log.String(), "IPsec SA reached its soft lifetime"); c > 1 || (n == b && c != 0) {
				t.Errorf("%d rekeys logged:\n%s", c, n.log.String())
			}
		}
		in, _ := a.spis()
		for s := range in {
			if old[s] {
				t.Errorf("A still holds the old inbound SA %s", s)
			}
		}
	})
}

// TestWiringRekeyThroughNewPhase1: A's bundle outlived its ISAKMP SA (B
// deleted the ISAKMP SA alone); at its soft limit A negotiates a new phase
// 1, then the Quick Mode that replaces the bundle, and deletes the old one
// at once rather than at its hard lifetime.
func TestWiringRekeyThroughNewPhase1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		opts := childOpts{kbytes: 1000}
		b := startChildNode(t, nw, "192.0.2.2", "192.0.2.1", "never", childOpts{kbytes: 1000, isakmpOnly: true})
		a := startChildNode(t, nw, "192.0.2.1", "192.0.2.2", "never", opts)
		a.ctl(t, control.CmdInitiate, "link")
		a.waitSAs(t, 2, 30*time.Second)
		b.ctl(t, control.CmdTerminate, "link")
		time.Sleep(time.Second)
		if r := a.ctl(t, control.CmdListSAs, ""); len(r.SAs) != 0 || len(r.Detached) != 1 {
			t.Fatalf("before the rekey: %+v", r)
		}
		old, _ := a.spis()
		var out engine.SARef
		for _, r := range a.back.SAs() {
			if !r.Inbound {
				out = r.Ref
			}
		}
		if err := a.back.Account(out, 910*1024); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		a.waitSAs(t, 2, time.Second)
		in, _ := a.spis()
		for s := range in {
			if old[s] {
				t.Errorf("A still holds the old inbound SA %s", s)
			}
		}
		r := a.ctl(t, control.CmdListSAs, "")
		if len(r.SAs) != 1 || len(r.SAs[0].Children) != 1 || len(r.Detached) != 0 {
			t.Errorf("after the rekey: %+v", r)
		}
		if !strings.Contains(a.log.String(), "IPsec SA rekeyed: the old bundle is deleted") {
			t.Errorf("A:\n%s", a.log.String())
		}
	})
}
