package quickmode_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
)

// lossyNet is an in-memory UDP network between daemons; drop decides per
// datagram whether it is lost.
type lossyNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*lossyConn
	drop  func(d daemon.Datagram, from netip.AddrPort) bool
}

type lossyConn struct {
	net    *lossyNet
	addr   netip.AddrPort
	inbox  chan daemon.Datagram
	closed chan struct{}
	once   sync.Once
}

func (n *lossyNet) ListenUDP(a netip.AddrPort) (daemon.PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns == nil {
		n.conns = map[netip.AddrPort]*lossyConn{}
	}
	if n.conns[a] != nil {
		return nil, errors.New("address in use")
	}
	c := &lossyConn{net: n, addr: a, inbox: make(chan daemon.Datagram, 256), closed: make(chan struct{})}
	n.conns[a] = c
	return c, nil
}

func (c *lossyConn) ReadDatagram(buf []byte) (daemon.Datagram, error) {
	select {
	case d := <-c.inbox:
		d.Data = buf[:copy(buf, d.Data)]
		return d, nil
	case <-c.closed:
		return daemon.Datagram{}, net.ErrClosed
	}
}

func (c *lossyConn) WriteDatagram(d daemon.Datagram) error {
	n := c.net
	n.mu.Lock()
	dst := n.conns[d.Remote]
	lost := n.drop != nil && n.drop(d, c.addr)
	n.mu.Unlock()
	if dst == nil || lost {
		return nil
	}
	select {
	case dst.inbox <- daemon.Datagram{Data: append([]byte(nil), d.Data...), Local: d.Remote, Remote: c.addr}:
	default:
	}
	return nil
}

func (c *lossyConn) LocalAddr() netip.AddrPort { return c.addr }

func (c *lossyConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
	})
	return nil
}

const lossyPolicy = `daemon:
  listen: ["%[1]s"]
  natt-port: 0
  engine: none
  retransmit: {timeout: 200ms, tries: 5}
transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}
proposals: {p: [esp]}
proposal-lists: {l: [p]}
connections:
  c:
    local-address: %[1]s
    remote-address: %[2]s
    initiate: %[3]s
    ike: {mode: main, transforms: [ike], auth: psk, psk: "lossy quick mode"}
    proposal-list: l
    pfs: ecp256
`

// counting wraps the Quick Mode handler to count the QM1s it started.
type counting struct {
	daemon.Handler
	mu     sync.Mutex
	starts int
}

func (c *counting) Start(ctx *daemon.Context, p *daemon.Packet) (daemon.Exchange, daemon.Result) {
	c.mu.Lock()
	c.starts++
	c.mu.Unlock()
	return c.Handler.Start(ctx, p)
}

func lossyDaemon(t *testing.T, nw *lossyNet, local, remote, initiate string) (*daemon.Daemon, *memory.Backend, *counting) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "iked.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(lossyPolicy, local, remote, initiate)), 0o600); err != nil {
		t.Fatal(err)
	}
	back := memory.New(memory.Options{})
	d := daemon.New(daemon.Options{
		ConfigFile: conf,
		Load:       daemon.PolicyLoader(policymgr.LoadOptions{}),
		NewEngine:  func(string) (daemon.Engine, error) { return engine.New(back, engine.Config{}), nil },
		Network:    nw,
		NoControl:  true,
		Log:        notify.Nop(),
	})
	p1 := &phase1.Runtime{}
	d.Register(isakmp.ExchangeMain, p1)
	qm := quickmode.NewRuntime(p1, phase1.NewInfoHandler(phase1.DPDConfig{}))
	cnt := &counting{Handler: qm}
	d.Register(isakmp.ExchangeQuickMode, cnt)
	d.RegisterInitiator(qm)
	d.Register(isakmp.ExchangeInformational, qm.Informational())
	return d, back, cnt
}

// TestLostQuickModeMessages: QM2 lost once (QM1 or QM2 is retransmitted;
// a retransmitted QM1 is answered from the cache, never consumed twice),
// and QM3 lost once (the responder retransmits QM2, the initiator's
// finished exchange answers with its cached QM3): both sides install.
func TestLostQuickModeMessages(t *testing.T) {
	for _, lose := range []string{"QM2", "QM3"} {
		t.Run(lose, func(t *testing.T) {
			a, b := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
			var mu sync.Mutex
			qmFromA, qmFromB, lost := 0, 0, 0
			nw := &lossyNet{drop: func(d daemon.Datagram, from netip.AddrPort) bool {
				h, err := isakmp.ParseHeader(d.Data)
				if err != nil || h.Exchange != isakmp.ExchangeQuickMode {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				if from == a {
					qmFromA++
					if lose == "QM3" && qmFromA == 2 {
						lost++
						return true
					}
				} else {
					qmFromB++
					if lose == "QM2" && qmFromB == 1 {
						lost++
						return true
					}
				}
				return false
			}}
			db, backB, cntB := lossyDaemon(t, nw, b.Addr().String(), a.Addr().String(), "never")
			if err := db.Start(); err != nil {
				t.Fatal(err)
			}
			defer db.Stop()
			da, backA, _ := lossyDaemon(t, nw, a.Addr().String(), b.Addr().String(), "start")
			if err := da.Start(); err != nil {
				t.Fatal(err)
			}
			defer da.Stop()
			deadline := time.Now().Add(10 * time.Second)
			for len(backA.SAs()) != 2 || len(backB.SAs()) != 2 {
				if time.Now().After(deadline) {
					t.Fatalf("not installed: A %d SAs, B %d SAs", len(backA.SAs()), len(backB.SAs()))
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			cntB.mu.Lock()
			defer cntB.mu.Unlock()
			if lost != 1 || cntB.starts != 1 {
				t.Errorf("lost %d, responder started %d Quick Modes", lost, cntB.starts)
			}
			if da.Counters.Retransmits.Load()+db.Counters.Retransmits.Load() == 0 {
				t.Error("nothing was retransmitted")
			}
			// With QM2 lost, either the initiator's QM1 or the responder's
			// QM2 is retransmitted first; with QM3 lost only the cache of
			// the initiator's finished exchange can answer.
			if lose == "QM3" && da.Counters.CachedReplies.Load() == 0 {
				t.Error("the initiator sent no cached QM3")
			}
		})
	}
}
