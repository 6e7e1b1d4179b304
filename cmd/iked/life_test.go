package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// In-process tests of registerExchanges, the wiring iked runs: two daemons
// with phase 1, Quick Mode, the informational handler and the watchers,
// memory engines, over an in-memory network, in virtual time. They show
// that the IPsec SAs go with an ISAKMP SA that DPD declares dead or that
// INITIAL-CONTACT makes stale.

// memNet is an in-memory UDP network; hosts in silent lose what they send.
type memNet struct {
	mu     sync.Mutex
	conns  map[netip.AddrPort]*memConn
	silent map[netip.Addr]bool
	// drop, if set, loses the datagrams from a host for which it is true.
	drop func(from netip.Addr, data []byte) bool
}

type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	inbox  chan daemon.Datagram
	closed chan struct{}
	once   sync.Once
}

func (n *memNet) ListenUDP(a netip.AddrPort) (daemon.PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[a] != nil {
		return nil, errors.New("address in use")
	}
	c := &memConn{n: n, addr: a, inbox: make(chan daemon.Datagram, 256), closed: make(chan struct{})}
	n.conns[a] = c
	return c, nil
}

func (n *memNet) setSilent(a netip.Addr, on bool) {
	n.mu.Lock()
	n.silent[a] = on
	n.mu.Unlock()
}

func (c *memConn) ReadDatagram(buf []byte) (daemon.Datagram, error) {
	select {
	case d := <-c.inbox:
		d.Data = buf[:copy(buf, d.Data)]
		return d, nil
	case <-c.closed:
		return daemon.Datagram{}, net.ErrClosed
	}
}

func (c *memConn) WriteDatagram(d daemon.Datagram) error {
	c.n.mu.Lock()
	to := c.n.conns[d.Remote]
	lost := c.n.silent[c.addr.Addr()] || (c.n.drop != nil && c.n.drop(c.addr.Addr(), d.Data))
	c.n.mu.Unlock()
	if to == nil || lost {
		return nil
	}
	select {
	case to.inbox <- daemon.Datagram{Data: append([]byte(nil), d.Data...), Local: d.Remote, Remote: c.addr}:
	default:
	}
	return nil
}

func (c *memConn) LocalAddr() netip.AddrPort { return c.addr }

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.n.mu.Lock()
		delete(c.n.conns, c.addr)
		c.n.mu.Unlock()
	})
	return nil
}

const lifePolicy = `daemon:
  listen: ["%[1]s"]
  natt-port: 0
  engine: none
  control-socket: %[4]s
  retransmit: {timeout: 500ms, tries: 3}
  dpd: {delay: 10s, timeout: 30s}
  log: {level: debug, format: json}
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
    ike: {mode: main, transforms: [ike], auth: psk, psk: "h12 wiring test key"}
    proposal-list: qm
`

type lifeNode struct {
	d    *daemon.Daemon
	back *memory.Backend
	log  *lockedBuffer
}

func startLifeNode(t *testing.T, nw *memNet, local, remote, initiate string) *lifeNode {
	t.Helper()
	n := &lifeNode{back: memory.New(memory.Options{}), log: &lockedBuffer{}}
	dir := t.TempDir()
	conf := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(lifePolicy, local, remote, initiate, filepath.Join(dir, "unused.sock"))), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(conf, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "debug", Format: "json"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	n.d = daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(n.back, engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   nw,
		Log:       lg,
		Workers:   1,
		NoControl: true,
	})
	registerExchanges(n.d, p.Daemon)
	if err := n.d.Start(); err != nil {
		t.Fatalf("start: %v\n%s", err, n.log.String())
	}
	t.Cleanup(n.d.Stop)
	return n
}

// waitSAs lets virtual time run until the node's engine holds k IPsec SAs.
func (n *lifeNode) waitSAs(t *testing.T, k int, limit time.Duration) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if len(n.back.SAs()) == k {
			return
		}
	}
	t.Fatalf("engine holds %d IPsec SAs, want %d\n%s", len(n.back.SAs()), k, n.log.String())
}

// TestWiringDeadPeerTakesChildSAs: A initiates phase 1 and Quick Mode with
// B (both engines hold the inbound and outbound ESP SA). B falls silent:
// A's DPD declares it dead and A's engine no longer holds the IPsec SAs of
// that ISAKMP SA.
func TestWiringDeadPeerTakesChildSAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		b := startLifeNode(t, nw, "192.0.2.2", "192.0.2.1", "never")
		a := startLifeNode(t, nw, "192.0.2.1", "192.0.2.2", "start")
		a.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, time.Second)
		nw.setSilent(netip.MustParseAddr("192.0.2.2"), true)
		time.Sleep(45 * time.Second)
		if n := len(a.back.SAs()); n != 0 {
			t.Fatalf("A's engine still holds %d IPsec SAs after its peer died\n%s", n, a.log.String())
		}
		if !strings.Contains(a.log.String(), `"reason":"dead peer"`) {
			t.Errorf("A's log:\n%s", a.log.String())
		}
	})
}

// TestWiringInitialContactTakesChildSAs: A negotiates phase 1 and Quick
// Mode with B, crashes (nothing it says on the way down arrives) and
// negotiates again. Its INITIAL-CONTACT makes B drop the stale ISAKMP SA
// and its IPsec SAs: B's engine holds only the new pair.
func TestWiringInitialContactTakesChildSAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := &memNet{conns: map[netip.AddrPort]*memConn{}, silent: map[netip.Addr]bool{}}
		b := startLifeNode(t, nw, "192.0.2.2", "192.0.2.1", "never")
		a1 := startLifeNode(t, nw, "192.0.2.1", "192.0.2.2", "start")
		a1.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, time.Second)
		old := b.back.SAs()
		nw.setSilent(netip.MustParseAddr("192.0.2.1"), true)
		a1.d.Stop()
		nw.setSilent(netip.MustParseAddr("192.0.2.1"), false)
		a2 := startLifeNode(t, nw, "192.0.2.1", "192.0.2.2", "start")
		a2.waitSAs(t, 2, 30*time.Second)
		b.waitSAs(t, 2, 5*time.Second)
		for _, o := range old {
			for _, n := range b.back.SAs() {
				if o.SA.SPI == n.SA.SPI {
					t.Errorf("B kept the stale IPsec SA %s", o.SA)
				}
			}
		}
		if !strings.Contains(b.log.String(), `"reason":"stale (INITIAL-CONTACT)"`) {
			t.Errorf("B's log:\n%s", b.log.String())
		}
	})
}
