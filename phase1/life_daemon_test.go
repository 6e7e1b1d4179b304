package phase1

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// The life of an ISAKMP SA after phase 1, inside real daemon loops in
// virtual time (testing/synctest): DPD declares a silent peer dead, NAT
// keepalives go out only from behind a NAT, the lifetime ends the SA with
// a Delete to the peer, and INITIAL-CONTACT from a restarted peer clears
// its stale SA.

// recorder is a daemon.Watcher that notes what happens to the SAs.
type recorder struct {
	mu      sync.Mutex
	est     []daemon.Cookies
	removed map[daemon.Cookies]daemon.RemoveReason
	when    map[daemon.Cookies]time.Time
	ic      map[daemon.Cookies]bool // the peer sent INITIAL-CONTACT in phase 1
	// local and remote are the SA's addresses when it was established.
	local, remote map[daemon.Cookies]netip.AddrPort
	// gone are the phase 1 states of the removed SAs, established or not,
	// with the reason.
	gone []goneSA
	// states are the phase 1 states of the established SAs.
	states map[daemon.Cookies]*SA
}

type goneSA struct {
	s   *SA
	why daemon.RemoveReason
}

func (r *recorder) SAEstablished(c *daemon.Context) daemon.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.est = append(r.est, c.SA.Cookies)
	if r.local == nil {
		r.local, r.remote = map[daemon.Cookies]netip.AddrPort{}, map[daemon.Cookies]netip.AddrPort{}
	}
	r.local[c.SA.Cookies], r.remote[c.SA.Cookies] = c.SA.Local, c.SA.Remote
	if s := StateOf(c.SA); s != nil {
		if r.ic == nil {
			r.ic = map[daemon.Cookies]bool{}
		}
		r.ic[c.SA.Cookies] = s.PeerInitialContact
		if r.states == nil {
			r.states = map[daemon.Cookies]*SA{}
		}
		r.states[c.SA.Cookies] = s
	}
	return daemon.Result{}
}

func (r *recorder) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.removed == nil {
		r.removed, r.when = map[daemon.Cookies]daemon.RemoveReason{}, map[daemon.Cookies]time.Time{}
	}
	if c.SA.Established {
		r.removed[c.SA.Cookies] = why
		r.when[c.SA.Cookies] = c.Now
	}
	if s := StateOf(c.SA); s != nil {
		r.gone = append(r.gone, goneSA{s, why})
	}
	return daemon.Result{}
}

func (r *recorder) established() []daemon.Cookies {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]daemon.Cookies(nil), r.est...)
}

func (r *recorder) reason(c daemon.Cookies) (daemon.RemoveReason, time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	why, ok := r.removed[c]
	return why, r.when[c], ok
}

// node is one daemon of a life test, with phase 1 wired as stack.Build
// wires it, without Quick Mode.
type node struct {
	d    *daemon.Daemon
	pol  *policymgr.Policy
	ih   *InfoHandler
	life *Life
	rec  *recorder
	log  *daemontest.LogBuffer
}

type nodeOpts struct {
	initiate bool
	natt     bool // listen on 4500 too and do NAT-T
	noWatch  bool // no phase 1 watcher: no DPD, keepalive or lifetime timers
	// p1, if set, runs phase 1 instead of a Runtime (a test's wrapper).
	p1 interface {
		daemon.Handler
		daemon.Initiator
	}
}

// startNode runs one daemon on addr with the real phase 1, its
// informational handler and its watcher, over nw. It must run in the
// synctest bubble.
func startNode(t *testing.T, nw daemon.Network, addr netip.AddrPort, p *policymgr.Policy, o nodeOpts) *node {
	t.Helper()
	n := &node{pol: p, rec: &recorder{}, log: &daemontest.LogBuffer{}}
	lg, err := notify.NewLogger(notify.LogConfig{Level: "debug", Format: "json"}, n.log)
	if err != nil {
		t.Fatal(err)
	}
	st := daemon.DefaultSettings()
	st.Listen = []netip.Addr{addr.Addr()}
	st.NATTPort = 0
	if o.natt {
		st.NATTPort = NATTPort
	}
	st.Engine = "none"
	st.ControlSocket = ""
	st.RetransmitBase = 500 * time.Millisecond
	conn := control.Conn{Name: "c", Initiate: "never"}
	if o.initiate {
		conn.Initiate = "start"
	}
	n.d = daemon.New(daemon.Options{
		Load: func(string) (*daemon.Loaded, []notify.Message, error) {
			return &daemon.Loaded{Settings: st, Conns: []control.Conn{conn}, Policy: p}, nil, nil
		},
		NewEngine: func(string) (daemon.Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{}), nil
		},
		Network:   nw,
		NoControl: true,
		Workers:   1,
		Log:       lg,
	})
	var rt interface {
		daemon.Handler
		daemon.Initiator
	} = &Runtime{}
	if o.p1 != nil {
		rt = o.p1
	}
	n.d.Register(isakmp.ExchangeMain, rt)
	n.d.Register(isakmp.ExchangeAggressive, rt)
	n.d.RegisterInitiator(rt)
	n.life = NewLife(DPDConfig{Delay: p.Daemon.DPD.Delay, Timeout: p.Daemon.DPD.Timeout})
	n.ih = NewInfoHandler(n.life)
	n.d.Register(isakmp.ExchangeInformational, n.ih)
	n.d.RegisterDeleter(Deleter{Life: n.life})
	if !o.noWatch {
		n.d.Watch(n.life)
	}
	n.d.Watch(n.rec)
	if err := n.d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.d.Stop)
	return n
}

// natPublic is the outside address of the NAT that A sits behind in
// the NAT tests (daemontest.Net.NAT).
var natPublic = netip.MustParseAddr("198.51.100.1")

// upPair starts B with pb, then A with pa, initiating, and waits until
// each has established the SA.
func upPair(t *testing.T, nw *daemontest.Net, pa, pb *policymgr.Policy, oa, ob nodeOpts) (a, b *node) {
	t.Helper()
	b = startNode(t, nw, addrB, pb, ob)
	oa.initiate = true
	a = startNode(t, nw, addrA, pa, oa)
	waitEstablished(t, a, b, 1)
	return a, b
}

// waitEstablished lets virtual time run until both nodes established k
// SAs in all.
func waitEstablished(t *testing.T, a, b *node, k int) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if len(a.rec.established()) >= k && len(b.rec.established()) >= k {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not established: A %v, B %v\nA:\n%s\nB:\n%s", a.rec.established(), b.rec.established(), a.log.String(), b.log.String())
}

func lifePolicies(t *testing.T, mode, daemonExtra, lifetime string, roadWarrior bool) (*policymgr.Policy, *policymgr.Policy) {
	a, b := pskPair(mode)
	a.daemonExtra, b.daemonExtra = daemonExtra, daemonExtra
	a.lifetime, b.lifetime = lifetime, lifetime
	b.roadWarr = roadWarrior
	return policyFor(t, a), policyFor(t, b)
}

// bothModes are the phase 1 modes the life tests run in.
var bothModes = []string{"main", "aggressive"}

// lifePair runs f, for each of modes, in a synctest bubble with A and B
// up (upPair) on lifePolicies(mode, daemonExtra, lifetime).
func lifePair(t *testing.T, modes []string, daemonExtra, lifetime string, f func(t *testing.T, nw *daemontest.Net, a, b *node)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			pa, pb := lifePolicies(t, mode, daemonExtra, lifetime, false)
			synctest.Test(t, func(t *testing.T) {
				nw := &daemontest.Net{}
				a, b := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{})
				f(t, nw, a, b)
			})
		})
	}
}

// TestLifeDPDDeclaresSilentPeerDead: both ends announce DPD (delay 10 s,
// timeout 30 s). While both answer, the SA stays for minutes of idle
// time and R-U-THERE/ACK go both ways; once B falls silent, A probes,
// declares B dead no later than delay+timeout after B's last word, says
// so in its log and removes the SA (reason dead peer).
func TestLifeDPDDeclaresSilentPeerDead(t *testing.T) {
	lifePair(t, bothModes, "  dpd: {delay: 10s, timeout: 30s}\n", "", func(t *testing.T, nw *daemontest.Net, a, b *node) {
		sa := a.rec.established()[0]
		time.Sleep(5 * time.Minute)
		if _, _, gone := a.rec.reason(sa); gone {
			t.Fatalf("A removed the SA while B answered:\n%s", a.log.String())
		}
		if _, _, gone := b.rec.reason(sa); gone {
			t.Fatalf("B removed the SA while A answered:\n%s", b.log.String())
		}
		probes := nw.Count(func(d daemontest.Sent) bool {
			return d.From.Addr() == addrA.Addr() && len(d.Data) > isakmp.HeaderLen && isakmp.ExchangeType(d.Data[18]) == isakmp.ExchangeInformational
		})
		if probes == 0 {
			t.Fatal("no informational (R-U-THERE or ACK) from A in 5 idle minutes")
		}
		nw.Silence(addrB.Addr(), true)
		silentAt := time.Now()
		time.Sleep(45 * time.Second)
		why, when, gone := a.rec.reason(sa)
		if !gone || why != daemon.RemoveDeadPeer {
			t.Fatalf("A: SA gone=%v reason %v, want dead peer\n%s", gone, why, a.log.String())
		}
		if d := when.Sub(silentAt); d > 40*time.Second {
			t.Errorf("A declared B dead %v after B fell silent, want within delay+timeout (40 s)", d)
		}
		if !strings.Contains(a.log.String(), "did not answer DPD") || !strings.Contains(a.log.String(), `"reason":"dead peer"`) {
			t.Errorf("A's log does not say the peer is dead:\n%s", a.log.String())
		}
		if a.d.Counters.SARemoved[daemon.RemoveDeadPeer].Load() != 1 {
			t.Error("dead-peer counter not 1")
		}
		if a.life.DPDNext(nil) != (time.Time{}) {
			t.Error("DPD state kept for nothing")
		}
	})
}

// TestLifeKeepalivesOnlyBehindNAT: with A behind a NAT, phase 1 floats to
// port 4500 (B follows A's new port) and, while the SA is idle, A sends a
// one-octet 0xFF to B's port 4500 every 20 s (RFC 3948, 2.3); B, not
// behind a NAT, sends none. Without the NAT neither sends any. DPD is off
// here so that the SA is truly idle (TestLifeKeepalivesYieldToTraffic has
// it on).
func TestLifeKeepalivesOnlyBehindNAT(t *testing.T) {
	for _, nat := range []bool{true, false} {
		for _, mode := range []string{"main", "aggressive"} {
			t.Run(fmt.Sprintf("%s/nat=%v", mode, nat), func(t *testing.T) {
				// Behind the NAT, B answers A wherever the NAT puts it.
				pa, pb := lifePolicies(t, mode, "  dpd: {delay: 0s, timeout: 0s}\n", "", nat)
				synctest.Test(t, func(t *testing.T) {
					nw := &daemontest.Net{}
					if nat {
						nw.NAT(addrA.Addr(), natPublic)
					}
					b := startNode(t, nw, addrB, pb, nodeOpts{natt: true})
					a := startNode(t, nw, addrA, pa, nodeOpts{natt: true, initiate: true})
					waitEstablished(t, a, b, 1)
					start := time.Now()
					time.Sleep(65 * time.Second)
					keepalive := func(from netip.Addr) int {
						return nw.Count(func(d daemontest.Sent) bool {
							return len(d.Data) == 1 && d.Data[0] == 0xff && d.From.Addr() == from && d.To.Port() == NATTPort
						})
					}
					public := addrA.Addr()
					if nat {
						public = natPublic
					}
					fromA, fromB := keepalive(public), keepalive(addrB.Addr())
					if fromB != 0 || b.d.Counters.KeepalivesSent.Load() != 0 {
						t.Errorf("B, not behind a NAT, sent %d keepalives", fromB)
					}
					if !nat {
						if fromA != 0 {
							t.Errorf("A, not behind a NAT, sent %d keepalives", fromA)
						}
						return
					}
					if fromA != 3 {
						t.Errorf("A sent %d keepalives in %v of idle time, want 3 (every 20 s)", fromA, time.Since(start))
					}
					if got := b.d.Counters.Keepalives.Load(); got != uint64(fromA) {
						t.Errorf("B received %d keepalives on its NAT-T port, A sent %d", got, fromA)
					}
					// Everything after the float went between the NAT-T ports.
					for _, d := range nw.Sent() {
						if p := d.To.Port(); len(d.Data) > 1 && p != NATTPort && p != 500 && p != 500+daemontest.NATPortShift && p != NATTPort+daemontest.NATPortShift {
							t.Errorf("datagram to port %d", d.To.Port())
						}
					}
					b.rec.mu.Lock()
					local, remote := b.rec.local[b.rec.est[0]], b.rec.remote[b.rec.est[0]]
					b.rec.mu.Unlock()
					if want := netip.AddrPortFrom(natPublic, NATTPort+daemontest.NATPortShift); remote != want || local.Port() != NATTPort {
						t.Errorf("B's SA runs %v <-> %v, want port %d <-> %v (A's NAT-T port as the NAT maps it)", local, remote, NATTPort, want)
					}
				})
			})
		}
	}
}

// TestLifeKeepalivesYieldToTraffic: with DPD on (probes after 30 s of
// silence), behind the NAT a keepalive goes out only when nothing else
// went to the peer for 20 s: DPD's R-U-THERE/ACK refresh the mapping too.
func TestLifeKeepalivesYieldToTraffic(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "  dpd: {delay: 30s, timeout: 150s}\n", "", true)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		nw.NAT(addrA.Addr(), natPublic)
		b := startNode(t, nw, addrB, pb, nodeOpts{natt: true})
		a := startNode(t, nw, addrA, pa, nodeOpts{natt: true, initiate: true})
		waitEstablished(t, a, b, 1)
		time.Sleep(5 * time.Minute)
		wire := nw.Sent()
		if a.d.Counters.KeepalivesSent.Load() == 0 {
			t.Fatal("no keepalive in 5 minutes behind the NAT")
		}
		// Keepalives are fewer than 5 min / 20 s = 15: DPD traffic took
		// the place of some.
		n := 0
		for _, d := range wire {
			if d.From.Addr() == natPublic && len(d.Data) == 1 {
				n++
			}
		}
		if n >= 15 || n == 0 {
			t.Errorf("%d keepalives in 5 minutes with DPD traffic, want between 1 and 14", n)
		}
		if b.d.Counters.KeepalivesSent.Load() != 0 {
			t.Error("B, not behind a NAT, sent keepalives")
		}
	})
}

// TestLifeLifetimeExpiry: the ISAKMP SA's negotiated lifetime (10 min)
// ends it on A when A's reauthentication fails (B falls silent before A's
// reauth timer, at 8.5 to 9 min, so A's new Main Mode gets no answer): A
// sends the Delete of the ISAKMP SA (RFC 2408, 3.15) and forgets it; B
// (whose own lifetime timer is off here) acts on the Delete (message 62)
// and forgets it too. Before the lifetime nothing happens.
func TestLifeLifetimeExpiry(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "", "10m", false)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		a, b := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{noWatch: true})
		est := time.Now()
		sa := a.rec.established()[0]
		time.Sleep(8 * time.Minute)
		nw.Silence(addrB.Addr(), true)
		time.Sleep(2*time.Minute - 2*time.Second)
		if !strings.Contains(a.log.String(), "reauthenticating ISAKMP SA") {
			t.Errorf("A did not try to reauthenticate before the lifetime:\n%s", a.log.String())
		}
		if _, _, gone := a.rec.reason(sa); gone {
			t.Fatalf("A removed the SA before its lifetime:\n%s", a.log.String())
		}
		time.Sleep(5 * time.Second)
		why, when, gone := a.rec.reason(sa)
		if !gone || why != daemon.RemoveExpired {
			t.Fatalf("A: gone=%v reason %v, want lifetime expired\n%s", gone, why, a.log.String())
		}
		if d := when.Sub(est); d < 10*time.Minute-time.Second || d > 10*time.Minute+time.Second {
			t.Errorf("expired %v after establishment, want 10m", d)
		}
		why, _, gone = b.rec.reason(sa)
		if !gone || why != daemon.RemovePeerDeleted {
			t.Fatalf("B: gone=%v reason %v, want deleted by the peer\n%s", gone, why, b.log.String())
		}
		if !strings.Contains(b.log.String(), `"catalog":62`) || !strings.Contains(b.log.String(), "ISAKMP") {
			t.Errorf("B did not log the peer's Delete (62):\n%s", b.log.String())
		}
		if !strings.Contains(a.log.String(), "lifetime expired") {
			t.Errorf("A's log does not say why:\n%s", a.log.String())
		}
	})
}

// TestLifeInitialContactClearsStale: A establishes an SA with B, then
// loses its state without a word (as in a crash) and negotiates again. Its
// new MM5/AM3 carries INITIAL-CONTACT (it has no SA with B), and B removes
// the stale SA (reason stale), keeping only the new one. The first SA's
// MM5 carried it too: A had no SA with B then either.
func TestLifeInitialContactClearsStale(t *testing.T) {
	lifePair(t, bothModes, "", "", func(t *testing.T, nw *daemontest.Net, a1, b *node) {
		old := b.rec.established()[0]
		// A crashes: nothing it says on the way down arrives.
		nw.Silence(addrA.Addr(), true)
		a1.d.Stop()
		nw.Silence(addrA.Addr(), false)
		a2 := startNode(t, nw, addrA, a1.pol, nodeOpts{initiate: true})
		for i := 0; i < 100 && len(b.rec.established()) < 2; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		est := b.rec.established()
		if len(est) != 2 || len(a2.rec.established()) != 1 {
			t.Fatalf("B established %v, A2 %v\nB:\n%s", est, a2.rec.established(), b.log.String())
		}
		why, _, gone := b.rec.reason(old)
		if !gone || why != daemon.RemoveStale {
			t.Fatalf("B: stale SA gone=%v reason %v\n%s", gone, why, b.log.String())
		}
		if _, _, gone := b.rec.reason(est[1]); gone {
			t.Fatal("B removed the new SA")
		}
		b.rec.mu.Lock()
		ic1, ic2 := b.rec.ic[old], b.rec.ic[est[1]]
		b.rec.mu.Unlock()
		if !ic1 || !ic2 {
			t.Errorf("INITIAL-CONTACT in phase 1: first SA %v, second %v", ic1, ic2)
		}
		if !strings.Contains(b.log.String(), "stale ISAKMP SA") {
			t.Errorf("B's log does not name the stale SA:\n%s", b.log.String())
		}
	})
}

// TestInitialContactOnlyOnFirstContact: the initiator adds INITIAL-CONTACT
// to its authenticating message only when it has no established SA of the
// same connection and peer identity; a responder never does.
func TestInitialContactOnlyOnFirstContact(t *testing.T) {
	conn := &policymgr.Connection{Name: "c"}
	other := &policymgr.Connection{Name: "d"}
	mk := func(c *policymgr.Connection, id string, st State) *SA {
		return &SA{Conn: c, RemoteIDText: id, State: st, Role: daemon.RoleInitiator}
	}
	cur := mk(conn, "", StateMMISentAuth)
	cases := []struct {
		name   string
		others []*SA
		want   bool
	}{
		{"none", nil, false},
		{"same connection established", []*SA{mk(conn, "192.0.2.2", StateEstablished)}, true},
		{"same connection half-open", []*SA{mk(conn, "", StateMMISentKE)}, false},
		{"other connection", []*SA{mk(other, "192.0.2.2", StateEstablished)}, false},
		{"itself", []*SA{cur}, false},
	}
	for _, c := range cases {
		if got := HasContact(cur, c.others); got != c.want {
			t.Errorf("%s: HasContact %v, want %v", c.name, got, c.want)
		}
		x := &Exchange{SA: cur, contact: func(s *SA) bool { return HasContact(s, c.others) }}
		if n := x.initialContact(); (n != nil) == c.want {
			t.Errorf("%s: INITIAL-CONTACT sent=%v with contact=%v", c.name, n != nil, c.want)
		} else if n != nil && (n.NotifyType != isakmp.InitialContact || n.Protocol != isakmp.ProtoISAKMP || len(n.SPI) != 16) {
			t.Errorf("%s: notify %+v", c.name, n)
		}
	}
	resp := &Exchange{SA: &SA{Role: daemon.RoleResponder}, contact: func(*SA) bool { return false }}
	if resp.initialContact() != nil {
		t.Error("a responder sent INITIAL-CONTACT")
	}
	if (&Exchange{SA: cur}).initialContact() != nil {
		t.Error("INITIAL-CONTACT without the daemon's tables")
	}
	// A different identity on the same connection is another peer.
	s := mk(conn, "198.51.100.9", StateMMISentAuth)
	if HasContact(s, []*SA{mk(conn, "192.0.2.2", StateEstablished)}) {
		t.Error("another identity counted as contact")
	}
}

// TestLifeHalfOpenExpiryWipes: A falls silent after MM3, so B's responder
// SA has derived its keys (MM4) but is never authenticated. When the
// half-open lifetime ends, B removes it and its secrets are overwritten
// (SKEYID and offspring zero, Ka and the cipher gone), not left to the
// garbage collector.
func TestLifeHalfOpenExpiryWipes(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "", "", false)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		b := startNode(t, nw, addrB, pb, nodeOpts{})
		// A's third datagram (MM5) and everything after it is lost.
		sent := 0
		nw.SetDrop(func(s daemontest.Sent) bool {
			if s.From.Addr() != addrA.Addr() {
				return false
			}
			sent++
			return sent > 2
		})
		startNode(t, nw, addrA, pa, nodeOpts{initiate: true})
		time.Sleep(59 * time.Second)
		b.rec.mu.Lock()
		early := len(b.rec.gone)
		b.rec.mu.Unlock()
		if early != 0 {
			t.Fatalf("B removed %d SAs before the half-open lifetime", early)
		}
		time.Sleep(2 * time.Second)
		b.rec.mu.Lock()
		gone := append([]goneSA(nil), b.rec.gone...)
		b.rec.mu.Unlock()
		if len(gone) != 1 || gone[0].why != daemon.RemoveHalfOpen {
			t.Fatalf("B removed %+v, want one half-open SA\n%s", gone, b.log.String())
		}
		s := gone[0].s
		if len(s.keys.SKEYIDa) == 0 {
			t.Fatal("the half-open SA had no keys: the test lost the wrong message")
		}
		for _, k := range [][]byte{s.keys.SKEYID, s.keys.SKEYIDd, s.keys.SKEYIDa, s.keys.SKEYIDe} {
			if !bytes.Equal(k, make([]byte, len(k))) {
				t.Errorf("key material left: %x", k)
			}
		}
		if s.ka != nil || s.cipher != nil || s.State != StateDeleted {
			t.Errorf("Ka %x, cipher %v, state %s after expiry", s.ka, s.cipher, s.State)
		}
	})
}

// TestFailureNotifyReadableByPeer: when phase 1 fails on the identity in
// MM5 (responder) or MM6 (initiator), the INVALID-ID-INFORMATION notify is
// protected from the last block of the message that failed, which is the
// IV the peer that sent it derives from (strongSwan reads it: "received
// INVALID_ID_INFORMATION error notify"). Opened with the peer's own keys
// and IV chain, it verifies.
func TestFailureNotifyReadableByPeer(t *testing.T) {
	for _, initiatorFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("initiator-fails=%v", initiatorFails), func(t *testing.T) {
			a, b := pskPair("main")
			if initiatorFails {
				a.remoteID = "fqdn:someone-else.example"
			} else {
				b.remoteID = "fqdn:someone-else.example"
			}
			o := negotiateSides(t, a, b)
			failing, peer := o.r, o.i
			if initiatorFails {
				failing, peer = o.i, o.r
			}
			if failing == nil || failing.SA.State != StateFailed {
				t.Fatalf("no failure:\n%s", o.logText())
			}
			var notifyMsg []byte
			for _, w := range o.wires {
				if w.fromI == initiatorFails && isakmp.ExchangeType(w.data[18]) == isakmp.ExchangeInformational {
					notifyMsg = w.data
				}
			}
			if notifyMsg == nil {
				t.Fatalf("no notify sent:\n%s", o.logText())
			}
			k, ok := peer.SA.InfoKeys()
			if !ok {
				t.Fatal("the peer has no keys")
			}
			inf, err := OpenInformational(notifyMsg, &k)
			if err != nil {
				t.Fatalf("the peer cannot open the notify: %v", err)
			}
			if len(inf.Notifies) != 1 || inf.Notifies[0].NotifyType != isakmp.InvalidIDInformation {
				t.Errorf("notifies %+v", inf.Notifies)
			}
			// The responder that sent MM6 holds the SA as established
			// (strongSwan ignores an error notify then): a Delete of the
			// ISAKMP SA follows, which it can open too. A responder that
			// fails MM5 sends none: its peer is still negotiating.
			if !initiatorFails {
				if len(o.also) != 0 {
					t.Errorf("responder sent %d more datagrams", len(o.also))
				}
				return
			}
			if len(o.also) != 1 {
				t.Fatalf("initiator sent %d datagrams after the notify, want the Delete", len(o.also))
			}
			del, err := OpenInformational(o.also[0].data, &k)
			if err != nil {
				t.Fatalf("the peer cannot open the Delete: %v", err)
			}
			out := ReceiveInformational(del, peer.SA.ICookie, peer.SA.RCookie, addrA)
			if !out.DeleteISAKMP {
				t.Errorf("the Delete does not delete the ISAKMP SA: %+v", del)
			}
		})
	}
}

// TestRefusalIsPhase1Failure: the responder's NO-PROPOSAL-CHOSEN to our
// MM1 (a clear informational) ends our half-open SA with 48 and 51, and
// with message 46 naming the notify, since our exchange never sees it.
func TestRefusalIsPhase1Failure(t *testing.T) {
	a, _ := pskPair("main")
	pa := policyFor(t, a)
	conn, _ := pa.Connection("c")
	x, _, err := NewInitiator(testEnv(), Config{Policy: pa}, conn, [8]byte{1}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	rc := [8]byte{2}
	refusal := &isakmp.Message{
		Header: isakmp.Header{InitiatorCookie: x.SA.ICookie, ResponderCookie: rc, Exchange: isakmp.ExchangeInformational, MessageID: 7},
		Payloads: []isakmp.Payload{&isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP,
			SPI: append(x.SA.ICookie[:], rc[:]...), NotifyType: isakmp.NoProposalChosen}},
	}
	data, err := refusal.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := NewInfoHandler(NewLife(DPDConfig{}))
	c := &daemon.Context{Now: time.Now(), SA: attached(x.SA)}
	_, r := h.Start(c, &daemon.Packet{Data: data, Remote: addrB})
	if r.Reject != nil || !r.DeleteSA {
		t.Fatalf("result %+v", r)
	}
	var nums []int
	var m46 string
	for _, m := range r.Log {
		nums = append(nums, m.Num)
		if m.Num == 46 {
			m46 = m.Text
		}
	}
	if fmt.Sprint(nums) != "[48 51 46]" || !strings.Contains(m46, "Phase-1 [initiator]") || !strings.Contains(m46, "NO-PROPOSAL-CHOSEN") {
		t.Errorf("messages %v, 46: %q", nums, m46)
	}
	if x.SA.State != StateDeleted {
		t.Errorf("state %s", x.SA.State)
	}
}

// Reauthentication (reauth.go) inside real daemon loops in virtual time,
// phase 1 alone: an ISAKMP SA of 10 min.

// TestLifeReauthReplacesSA: in both modes A, the initiator, starts a new
// phase 1 between 8.5 and 9 min; once it is up A deletes the old SA
// (reason reauthenticated, after retireGrace) and B acts on the Delete;
// each side then holds exactly the new SA, which carried no
// INITIAL-CONTACT (that would make B drop A's other SAs). B never starts
// one of its own.
func TestLifeReauthReplacesSA(t *testing.T) {
	lifePair(t, bothModes, "", "10m", func(t *testing.T, nw *daemontest.Net, a, b *node) {
		old := a.rec.established()[0]
		time.Sleep(8*time.Minute + 29*time.Second)
		if len(a.rec.established()) != 1 {
			t.Fatalf("A reauthenticated before 8.5 min:\n%s", a.log.String())
		}
		time.Sleep(40 * time.Second)
		est := a.rec.established()
		if len(est) != 2 || len(b.rec.established()) != 2 {
			t.Fatalf("after 9 min: A established %v, B %v\nA:\n%s", est, b.rec.established(), a.log.String())
		}
		nu := est[1]
		if why, _, gone := a.rec.reason(old); !gone || why != daemon.RemoveReauthenticated {
			t.Errorf("A: old SA gone=%v reason %v, want reauthenticated", gone, why)
		}
		if why, _, gone := b.rec.reason(old); !gone || why != daemon.RemovePeerDeleted {
			t.Errorf("B: old SA gone=%v reason %v, want deleted by the peer", gone, why)
		}
		for name, n := range map[string]*node{"A": a, "B": b} {
			if _, _, gone := n.rec.reason(nu); gone {
				t.Errorf("%s removed the new SA", name)
			}
			if n.rec.ic[nu] {
				t.Errorf("%s: the reauthenticating phase 1 carried INITIAL-CONTACT", name)
			}
		}
		if strings.Contains(b.log.String(), "reauthenticating ISAKMP SA") {
			t.Errorf("B reauthenticated too:\n%s", b.log.String())
		}
		if !strings.Contains(a.log.String(), "ISAKMP SA reauthenticated") {
			t.Errorf("A's log does not say the SA was reauthenticated:\n%s", a.log.String())
		}
	})
}

// TestLifeRoadWarriorDoesNotReauth: B answers A as a road warrior (no
// known peer address) and A does not run its timers here: B does not
// reauthenticate, and its SA ends at the lifetime with a Delete.
func TestLifeRoadWarriorDoesNotReauth(t *testing.T) {
	pa, pb := lifePolicies(t, "main", "", "10m", true)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		_, b := upPair(t, nw, pa, pb, nodeOpts{noWatch: true}, nodeOpts{})
		sa := b.rec.established()[0]
		time.Sleep(10*time.Minute + 5*time.Second)
		if strings.Contains(b.log.String(), "reauthenticating") {
			t.Errorf("the road warrior responder reauthenticated:\n%s", b.log.String())
		}
		if why, _, gone := b.rec.reason(sa); !gone || why != daemon.RemoveExpired {
			t.Errorf("B: gone=%v reason %v, want lifetime expired\n%s", gone, why, b.log.String())
		}
		if len(b.rec.established()) != 1 {
			t.Errorf("B established %v", b.rec.established())
		}
	})
}
