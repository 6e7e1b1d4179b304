package phase1_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack"
	"github.com/iked/iked/stack/stacktest"
)

// The life of an ISAKMP SA after phase 1, inside daemons with the
// production wiring (stacktest) in virtual time (testing/synctest): DPD
// declares a silent peer dead, NAT keepalives go out only from behind a
// NAT, the lifetime ends the SA with a Delete to the peer, and
// INITIAL-CONTACT from a restarted peer clears its stale SA. The nodes
// initiate phase 1 alone (stacktest.Phase1Only).

// Addresses of the two test gateways (stacktest.HostA, HostB).
var (
	addrA = netip.MustParseAddrPort(stacktest.HostA + ":500")
	addrB = netip.MustParseAddrPort(stacktest.HostB + ":500")
)

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
	states map[daemon.Cookies]*phase1.SA
}

type goneSA struct {
	s   *phase1.SA
	why daemon.RemoveReason
}

func newRecorder() *recorder {
	return &recorder{
		removed: map[daemon.Cookies]daemon.RemoveReason{}, when: map[daemon.Cookies]time.Time{},
		ic: map[daemon.Cookies]bool{}, local: map[daemon.Cookies]netip.AddrPort{},
		remote: map[daemon.Cookies]netip.AddrPort{}, states: map[daemon.Cookies]*phase1.SA{},
	}
}

func (r *recorder) SAEstablished(c *daemon.Context) daemon.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.est = append(r.est, c.SA.Cookies)
	r.local[c.SA.Cookies], r.remote[c.SA.Cookies] = c.SA.Local, c.SA.Remote
	if s := phase1.StateOf(c.SA); s != nil {
		r.ic[c.SA.Cookies] = s.PeerInitialContact
		r.states[c.SA.Cookies] = s
	}
	return daemon.Result{}
}

func (r *recorder) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.SA.Established {
		r.removed[c.SA.Cookies] = why
		r.when[c.SA.Cookies] = c.Now
	}
	if s := phase1.StateOf(c.SA); s != nil {
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

// node is one daemon of a life test and what its recorder saw.
type node struct {
	*stacktest.Node
	pol stacktest.Policy
	rec *recorder
}

type nodeOpts struct {
	initiate bool
	natt     bool // listen on phase1.NATTPort too and do NAT-T
	noLife   bool // no phase1.Life watcher: no DPD, keepalive or lifetime timers
	// edit, if set, changes the stack after stacktest.Phase1Only.
	edit func(*stack.Stack)
}

// start runs a node on p (stacktest.Start, phase 1 alone) over nw, with
// a recorder. It must run in the synctest bubble.
func start(t *testing.T, nw *stacktest.Net, p stacktest.Policy, o nodeOpts) *node {
	t.Helper()
	if o.natt {
		p.NATTPort = phase1.NATTPort
	}
	if o.initiate {
		p.Initiate = "start"
	}
	n := &node{pol: p, rec: newRecorder()}
	n.Node = stacktest.Start(t, p, stacktest.Options{Net: nw, Watch: n.rec, Edit: func(s *stack.Stack) {
		stacktest.Phase1Only(s)
		if o.noLife {
			s.Life = nil
		}
		if o.edit != nil {
			o.edit(s)
		}
	}})
	return n
}

// natPublic is the outside address of the NAT that A sits behind in
// the NAT tests (daemontest.Net.NAT).
var natPublic = netip.MustParseAddr("198.51.100.1")

// upPair starts B with pb, then A with pa, initiating, and waits until
// each has established the SA.
func upPair(t *testing.T, nw *stacktest.Net, pa, pb stacktest.Policy, oa, ob nodeOpts) (a, b *node) {
	t.Helper()
	b = start(t, nw, pb, ob)
	oa.initiate = true
	a = start(t, nw, pa, oa)
	waitEstablished(t, a, b, 1)
	return a, b
}

// waitEstablished lets virtual time run until both nodes established k
// SAs in all.
func waitEstablished(t *testing.T, a, b *node, k int) {
	t.Helper()
	stacktest.Wait(t, time.Minute, fmt.Sprintf("%d SAs established on both", k), func() bool {
		return len(a.rec.established()) >= k && len(b.rec.established()) >= k
	}, a.Node, b.Node)
}

// lifePolicies are the policies of A and B: PSK in mode, with daemon.dpd
// dpd and the ike lifetime when set; B answers any peer when roadWarrior.
func lifePolicies(mode, dpd, lifetime string, roadWarrior bool) (a, b stacktest.Policy) {
	a = stacktest.Policy{Local: stacktest.HostA, Remote: stacktest.HostB, Mode: mode, DPD: dpd,
		IKELifetime: lifetime, Phase1LifetimeMin: "5m"}
	b = a
	b.Local, b.Remote, b.RoadWarrior = stacktest.HostB, stacktest.HostA, roadWarrior
	return a, b
}

// bothModes are the phase 1 modes the life tests run in.
var bothModes = []string{"main", "aggressive"}

// lifePair runs f, for each of modes, in a synctest bubble with A and B
// up (upPair) on lifePolicies(mode, dpd, lifetime).
func lifePair(t *testing.T, modes []string, dpd, lifetime string, f func(t *testing.T, nw *stacktest.Net, a, b *node)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			pa, pb := lifePolicies(mode, dpd, lifetime, false)
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
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
	lifePair(t, bothModes, "{delay: 10s, timeout: 30s}", "", func(t *testing.T, nw *stacktest.Net, a, b *node) {
		sa := a.rec.established()[0]
		time.Sleep(5 * time.Minute)
		if _, _, gone := a.rec.reason(sa); gone {
			t.Fatalf("A removed the SA while B answered:\n%s", a.Log.String())
		}
		if _, _, gone := b.rec.reason(sa); gone {
			t.Fatalf("B removed the SA while A answered:\n%s", b.Log.String())
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
			t.Fatalf("A: SA gone=%v reason %v, want dead peer\n%s", gone, why, a.Log.String())
		}
		if d := when.Sub(silentAt); d > 40*time.Second {
			t.Errorf("A declared B dead %v after B fell silent, want within delay+timeout (40 s)", d)
		}
		if !strings.Contains(a.Log.String(), "did not answer DPD") || !strings.Contains(a.Log.String(), `"reason":"dead peer"`) {
			t.Errorf("A's log does not say the peer is dead:\n%s", a.Log.String())
		}
		if a.Daemon.Counters.SARemoved[daemon.RemoveDeadPeer].Load() != 1 {
			t.Error("dead-peer counter not 1")
		}
		if a.Life.DPDNext(nil) != (time.Time{}) {
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
				pa, pb := lifePolicies(mode, "{delay: 0s, timeout: 0s}", "", nat)
				stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
					if nat {
						nw.NAT(addrA.Addr(), natPublic)
					}
					b := start(t, nw, pb, nodeOpts{natt: true})
					a := start(t, nw, pa, nodeOpts{natt: true, initiate: true})
					waitEstablished(t, a, b, 1)
					start := time.Now()
					time.Sleep(65 * time.Second)
					keepalive := func(from netip.Addr) int {
						return nw.Count(func(d daemontest.Sent) bool {
							return len(d.Data) == 1 && d.Data[0] == 0xff && d.From.Addr() == from && d.To.Port() == phase1.NATTPort
						})
					}
					public := addrA.Addr()
					if nat {
						public = natPublic
					}
					fromA, fromB := keepalive(public), keepalive(addrB.Addr())
					if fromB != 0 || b.Daemon.Counters.KeepalivesSent.Load() != 0 {
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
					if got := b.Daemon.Counters.Keepalives.Load(); got != uint64(fromA) {
						t.Errorf("B received %d keepalives on its NAT-T port, A sent %d", got, fromA)
					}
					// Everything after the float went between the NAT-T ports.
					for _, d := range nw.Sent() {
						if p := d.To.Port(); len(d.Data) > 1 && p != phase1.NATTPort && p != 500 && p != 500+daemontest.NATPortShift && p != phase1.NATTPort+daemontest.NATPortShift {
							t.Errorf("datagram to port %d", d.To.Port())
						}
					}
					b.rec.mu.Lock()
					local, remote := b.rec.local[b.rec.est[0]], b.rec.remote[b.rec.est[0]]
					b.rec.mu.Unlock()
					if want := netip.AddrPortFrom(natPublic, phase1.NATTPort+daemontest.NATPortShift); remote != want || local.Port() != phase1.NATTPort {
						t.Errorf("B's SA runs %v <-> %v, want port %d <-> %v (A's NAT-T port as the NAT maps it)", local, remote, phase1.NATTPort, want)
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
	pa, pb := lifePolicies("main", "{delay: 30s, timeout: 150s}", "", true)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		nw.NAT(addrA.Addr(), natPublic)
		b := start(t, nw, pb, nodeOpts{natt: true})
		a := start(t, nw, pa, nodeOpts{natt: true, initiate: true})
		waitEstablished(t, a, b, 1)
		time.Sleep(5 * time.Minute)
		wire := nw.Sent()
		if a.Daemon.Counters.KeepalivesSent.Load() == 0 {
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
		if b.Daemon.Counters.KeepalivesSent.Load() != 0 {
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
	pa, pb := lifePolicies("main", "", "10m", false)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		a, b := upPair(t, nw, pa, pb, nodeOpts{}, nodeOpts{noLife: true})
		est := time.Now()
		sa := a.rec.established()[0]
		time.Sleep(8 * time.Minute)
		nw.Silence(addrB.Addr(), true)
		time.Sleep(2*time.Minute - 2*time.Second)
		if !strings.Contains(a.Log.String(), "reauthenticating ISAKMP SA") {
			t.Errorf("A did not try to reauthenticate before the lifetime:\n%s", a.Log.String())
		}
		if _, _, gone := a.rec.reason(sa); gone {
			t.Fatalf("A removed the SA before its lifetime:\n%s", a.Log.String())
		}
		time.Sleep(5 * time.Second)
		why, when, gone := a.rec.reason(sa)
		if !gone || why != daemon.RemoveExpired {
			t.Fatalf("A: gone=%v reason %v, want lifetime expired\n%s", gone, why, a.Log.String())
		}
		if d := when.Sub(est); d < 10*time.Minute-time.Second || d > 10*time.Minute+time.Second {
			t.Errorf("expired %v after establishment, want 10m", d)
		}
		why, _, gone = b.rec.reason(sa)
		if !gone || why != daemon.RemovePeerDeleted {
			t.Fatalf("B: gone=%v reason %v, want deleted by the peer\n%s", gone, why, b.Log.String())
		}
		if !strings.Contains(b.Log.String(), `"catalog":62`) || !strings.Contains(b.Log.String(), "ISAKMP") {
			t.Errorf("B did not log the peer's Delete (62):\n%s", b.Log.String())
		}
		if !strings.Contains(a.Log.String(), "lifetime expired") {
			t.Errorf("A's log does not say why:\n%s", a.Log.String())
		}
	})
}

// TestLifeInitialContactClearsStale: A establishes an SA with B, then
// loses its state without a word (as in a crash) and negotiates again. Its
// new MM5/AM3 carries INITIAL-CONTACT (it has no SA with B), and B removes
// the stale SA (reason stale), keeping only the new one. The first SA's
// MM5 carried it too: A had no SA with B then either.
func TestLifeInitialContactClearsStale(t *testing.T) {
	lifePair(t, bothModes, "", "", func(t *testing.T, nw *stacktest.Net, a1, b *node) {
		old := b.rec.established()[0]
		// A crashes: nothing it says on the way down arrives.
		nw.Silence(addrA.Addr(), true)
		a1.Daemon.Stop()
		nw.Silence(addrA.Addr(), false)
		a2 := start(t, nw, a1.pol, nodeOpts{initiate: true})
		// A2 may note its SA after B does: in Aggressive Mode its
		// daemon sends AM3 before it runs the watchers
		// (daemon/exchange.go, carryOut).
		for i := 0; i < 100 && (len(b.rec.established()) < 2 || len(a2.rec.established()) < 1); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		est := b.rec.established()
		if len(est) != 2 || len(a2.rec.established()) != 1 {
			t.Fatalf("B established %v, A2 %v\nB:\n%s", est, a2.rec.established(), b.Log.String())
		}
		why, _, gone := b.rec.reason(old)
		if !gone || why != daemon.RemoveStale {
			t.Fatalf("B: stale SA gone=%v reason %v\n%s", gone, why, b.Log.String())
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
		if !strings.Contains(b.Log.String(), "stale ISAKMP SA") {
			t.Errorf("B's log does not name the stale SA:\n%s", b.Log.String())
		}
	})
}

// TestLifeHalfOpenExpiryWipes: A falls silent after MM3, so B's responder
// SA has derived its keys (MM4) but is never authenticated. When the
// half-open lifetime ends, B removes it and its secrets are overwritten
// (SKEYID and offspring zero, Ka and the cipher gone), not left to the
// garbage collector.
func TestLifeHalfOpenExpiryWipes(t *testing.T) {
	pa, pb := lifePolicies("main", "", "", false)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		b := start(t, nw, pb, nodeOpts{})
		// A's third datagram (MM5) and everything after it is lost.
		sent := 0
		nw.SetDrop(func(s daemontest.Sent) bool {
			if s.From.Addr() != addrA.Addr() {
				return false
			}
			sent++
			return sent > 2
		})
		start(t, nw, pa, nodeOpts{initiate: true})
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
			t.Fatalf("B removed %+v, want one half-open SA\n%s", gone, b.Log.String())
		}
		s := gone[0].s
		secrets := phase1.Secrets(s)
		if len(secrets["SKEYID_a"]) == 0 {
			t.Fatal("the half-open SA had no keys: the test lost the wrong message")
		}
		for name, k := range secrets {
			if !bytes.Equal(k, make([]byte, len(k))) {
				t.Errorf("%s left: %x", name, k)
			}
		}
		if phase1.HoldsKeys(s) || s.State != phase1.StateDeleted {
			t.Errorf("keys still referenced (%v), state %s after expiry", phase1.HoldsKeys(s), s.State)
		}
	})
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
	lifePair(t, bothModes, "", "10m", func(t *testing.T, nw *stacktest.Net, a, b *node) {
		old := a.rec.established()[0]
		time.Sleep(8*time.Minute + 29*time.Second)
		if len(a.rec.established()) != 1 {
			t.Fatalf("A reauthenticated before 8.5 min:\n%s", a.Log.String())
		}
		time.Sleep(40 * time.Second)
		est := a.rec.established()
		if len(est) != 2 || len(b.rec.established()) != 2 {
			t.Fatalf("after 9 min: A established %v, B %v\nA:\n%s", est, b.rec.established(), a.Log.String())
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
		if strings.Contains(b.Log.String(), "reauthenticating ISAKMP SA") {
			t.Errorf("B reauthenticated too:\n%s", b.Log.String())
		}
		if !strings.Contains(a.Log.String(), "ISAKMP SA reauthenticated") {
			t.Errorf("A's log does not say the SA was reauthenticated:\n%s", a.Log.String())
		}
	})
}

// TestLifeRoadWarriorDoesNotReauth: B answers A as a road warrior (no
// known peer address) and A does not run its timers here: B does not
// reauthenticate, and its SA ends at the lifetime with a Delete.
func TestLifeRoadWarriorDoesNotReauth(t *testing.T) {
	pa, pb := lifePolicies("main", "", "10m", true)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		_, b := upPair(t, nw, pa, pb, nodeOpts{noLife: true}, nodeOpts{})
		sa := b.rec.established()[0]
		time.Sleep(10*time.Minute + 5*time.Second)
		if strings.Contains(b.Log.String(), "reauthenticating") {
			t.Errorf("the road warrior responder reauthenticated:\n%s", b.Log.String())
		}
		if why, _, gone := b.rec.reason(sa); !gone || why != daemon.RemoveExpired {
			t.Errorf("B: gone=%v reason %v, want lifetime expired\n%s", gone, why, b.Log.String())
		}
		if len(b.rec.established()) != 1 {
			t.Errorf("B established %v", b.rec.established())
		}
	})
}
