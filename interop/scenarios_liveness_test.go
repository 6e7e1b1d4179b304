package interop

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The scenarios about an SA's life after phase 1: a peer that
// restarts (INITIAL-CONTACT), a peer that dies (DPD), a NAT on the path
// (RFC 3947 float to 4500, keepalives) and a lossy path (retransmission).

// kill ends charon with SIGKILL: no DELETE reaches the peer, as when the
// host crashes.
func (c *Charon) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	err := <-c.err
	c.err <- err
}

// killIked ends iked with SIGKILL and waits for it.
func killIked(t *testing.T, k *Iked) {
	t.Helper()
	_ = k.Proc.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if done, _ := k.Proc.Exited(); done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("iked did not end after SIGKILL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until list, the cookies of the SAs one side holds (as
// "icookie/rcookie" in hex), no longer holds icookie/rcookie.
func waitGone(who string, list func() ([]string, error), icookie, rcookie string, timeout time.Duration) error {
	want := strings.ToLower(icookie + "/" + rcookie)
	var held []string
	var err error
	if Poll(timeout, 100*time.Millisecond, func() bool {
		held, err = list()
		return err != nil || !slices.Contains(held, want)
	}) {
		return err
	}
	return fmt.Errorf("%s still has the SA %s after %v: %v", who, want, timeout, held)
}

// waitIkedGone waits until iked lists no ISAKMP SA with the cookies.
func waitIkedGone(k *Iked, icookie, rcookie string, timeout time.Duration) error {
	return waitGone("iked", func() ([]string, error) {
		sas, err := k.ListSAs()
		var held []string
		for _, sa := range sas {
			held = append(held, strings.ToLower(sa.ICookie+"/"+sa.RCookie))
		}
		return held, err
	}, icookie, rcookie, timeout)
}

// waitCharonEmpty waits up to timeout until charon lists no IKE SA; it
// returns the last list and whether it was empty.
func waitCharonEmpty(c *Charon, timeout time.Duration) ([]IKESA, bool) {
	var sas []IKESA
	ok := Poll(timeout, 100*time.Millisecond, func() bool {
		var err error
		sas, err = c.ListSAs()
		return err == nil && len(sas) == 0
	})
	return sas, ok
}

// waitCharonGone waits until charon lists no IKE SA with the cookies.
func waitCharonGone(c *Charon, icookie, rcookie string, timeout time.Duration) error {
	return waitGone("strongSwan", func() ([]string, error) {
		sas, err := c.ListSAs()
		var held []string
		for _, sa := range sas {
			held = append(held, cookieHex(sa.InitiatorSPI)+"/"+cookieHex(sa.ResponderSPI))
		}
		return held, err
	}, icookie, rcookie, timeout)
}

// TestIkedPeerRestart: the peer loses its state (SIGKILL, no DELETE) and
// negotiates again; the new phase 1 carries INITIAL-CONTACT, and the side
// that survived must delete the stale SA of that peer, keeping only the new
// one. iked-responder: strongSwan restarts and iked clears; iked-initiator:
// iked restarts and strongSwan clears, which needs iked to send
// INITIAL-CONTACT.
func TestIkedPeerRestart(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := newP1Setup(t, basePSK, ikedInitiates)
		s.start(t)
		old := checkEstablished(t, s.charon, s.iked, 20*time.Second)
		oi, or := cookieHex(old.InitiatorSPI), cookieHex(old.ResponderSPI)
		if ikedInitiates {
			killIked(t, s.iked)
			s.iked = StartIked(t, s.ike.NS, s.ikedPol)
			if err := s.iked.Initiate("peer"); err != nil {
				t.Fatal(err)
			}
		} else {
			s.charon.kill()
			s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
			initiateIKE(s.charon)
		}
		checkEstablishedExcept(t, s.charon, s.iked, 20*time.Second, oi)
		if ikedInitiates {
			if err := waitCharonGone(s.charon, oi, or, 5*time.Second); err != nil {
				t.Errorf("INITIAL-CONTACT from the restarted iked did not clear strongSwan's stale SA: %v", err)
			}
			if !strings.Contains(s.charon.Log(), "N(INITIAL_CONTACT)") {
				t.Errorf("strongSwan received no INITIAL-CONTACT from iked")
			}
		} else if err := waitIkedGone(s.iked, oi, or, 5*time.Second); err != nil {
			t.Errorf("INITIAL-CONTACT from the restarted strongSwan did not clear iked's stale SA: %v", err)
		}
	})
}

// dpdSettings are short enough for a test: a probe after 1 s of silence,
// dead after 3 s more.
const dpdDelay, dpdTimeout = time.Second, 3 * time.Second

var (
	dpdRequestRE = regexp.MustCompile(`parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]`)
	dpdAckRE     = regexp.MustCompile(`parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]`)
)

// TestIkedDPD: one side probes (RFC 3706: R-U-THERE after dpdDelay of
// silence), the other answers; the SA stays up while both live, then the
// answering side is killed without a DELETE and the prober deletes the SA
// within its DPD timeout. iked-initiator: iked probes (strongSwan's DPD
// is off, it only answers) and must notice strongSwan's death;
// iked-responder: strongSwan probes, iked must acknowledge in time until it
// is killed and strongSwan notices. Only one side probes at a time: a
// peer's probes are traffic that postpones the other side's own.
func TestIkedDPD(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := newP1Setup(t, basePSK, ikedInitiates)
		if ikedInitiates {
			s.ikedPol.DPDDelay, s.ikedPol.DPDTimeout = dpdDelay, dpdTimeout
		} else {
			// On (iked announces DPD) but far too slow to probe here.
			s.ikedPol.DPDDelay, s.ikedPol.DPDTimeout = time.Minute, 3*time.Minute
			s.charonOpt.Connections[0].DPDDelay, s.charonOpt.Connections[0].DPDTimeout = dpdDelay, dpdTimeout
		}
		s.start(t)
		sa := checkEstablished(t, s.charon, s.iked, 20*time.Second)
		ic, rc := cookieHex(sa.InitiatorSPI), cookieHex(sa.ResponderSPI)
		// Longer than delay+timeout: a side whose probes went unanswered
		// would have deleted the SA by now.
		time.Sleep(dpdDelay + dpdTimeout + time.Second)
		if _, err := s.charon.WaitIKE("ike", "ESTABLISHED", time.Second); err != nil {
			t.Fatalf("strongSwan lost the SA while both were alive: %v", err)
		}
		if _, err := s.iked.WaitEstablished(ic, rc, time.Second); err != nil {
			t.Fatalf("iked lost the SA while both were alive: %v", err)
		}
		log := s.charon.Log()
		if !ikedInitiates && !dpdAckRE.MatchString(log) {
			t.Errorf("strongSwan's R-U-THERE got no R-U-THERE-ACK from iked")
		}
		if ikedInitiates && !dpdRequestRE.MatchString(log) {
			t.Errorf("iked sent no R-U-THERE to strongSwan")
		}
		start := time.Now()
		limit := dpdDelay + dpdTimeout + 3*time.Second
		if ikedInitiates {
			s.charon.kill()
			if err := waitIkedGone(s.iked, ic, rc, limit); err != nil {
				t.Fatalf("iked did not declare the dead peer dead: %v", err)
			}
		} else {
			killIked(t, s.iked)
			if err := waitCharonGone(s.charon, ic, rc, limit); err != nil {
				t.Fatalf("strongSwan did not declare the dead iked dead: %v", err)
			}
		}
		t.Logf("dead peer's SA deleted %v after the kill", time.Since(start).Round(100*time.Millisecond))
	})
}

// TestIkedNAT puts a real NAT (nftables masquerade) between the two:
// iked behind it as initiator, or strongSwan behind it with iked as
// responder. Both sides detect the NAT, IKE floats to port 4500 and the SA
// is established with equal keys. Behind the NAT iked must keep the
// mapping alive: the router counts its one-octet NAT keepalives (RFC 3948,
// 2.3; strongSwan's and iked's default interval is 20 s) and the SA is
// still up on both sides afterwards.
func TestIkedNAT(t *testing.T) {
	RequireStrongSwan(t)
	t.Run("iked-behind-nat/iked-initiator", func(t *testing.T) {
		t.Parallel()
		r := NewRouted(t, RoutedOptions{NAT: true})
		s := natSetup(t, r.Left, r.Right, true)
		// Count iked's keepalives as they leave the NAT: UDP to 4500 with
		// one octet of payload (UDP length 9).
		r.Router.MustRun("nft", "add table ip "+Prefix+"ka")
		r.Router.MustRun("nft", "add chain ip "+Prefix+"ka forward { type filter hook forward priority 0; policy accept; }")
		r.Router.MustRun("nft", "add rule ip "+Prefix+"ka forward udp dport 4500 udp length 9 counter")
		s.start(t)
		sa := checkEstablished(t, s.charon, s.iked, 20*time.Second)
		if sa.RemoteHost != r.RouterRight.String() || sa.RemotePort == "500" || !sa.NATRemote {
			t.Errorf("strongSwan sees %s:%s nat-remote=%v, want the router %s, not port 500, behind a NAT", sa.RemoteHost, sa.RemotePort, sa.NATRemote, r.RouterRight)
		}
		isa, _ := s.iked.WaitEstablished(cookieHex(sa.InitiatorSPI), cookieHex(sa.ResponderSPI), time.Second)
		if !strings.HasSuffix(isa.Remote, ":4500") || !strings.HasSuffix(isa.Local, ":4500") {
			t.Errorf("iked did not float to 4500: local %s remote %s", isa.Local, isa.Remote)
		}
		deadline := time.Now().Add(30 * time.Second)
		var n int
		for n == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Second)
			out, err := r.Router.Run("nft", "list", "table", "ip", Prefix+"ka")
			if err != nil {
				t.Fatal(err)
			}
			if m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(out); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
		}
		if n == 0 {
			t.Errorf("no NAT keepalive from iked crossed the NAT in 30 s")
		}
		if _, err := s.charon.WaitIKE("ike", "ESTABLISHED", time.Second); err != nil {
			t.Errorf("strongSwan lost the SA: %v", err)
		}
		if _, err := s.iked.WaitEstablished(cookieHex(sa.InitiatorSPI), cookieHex(sa.ResponderSPI), time.Second); err != nil {
			t.Errorf("iked lost the SA: %v", err)
		}
		t.Logf("router forwarded %d NAT keepalives from iked", n)
	})
	t.Run("strongswan-behind-nat/iked-responder", func(t *testing.T) {
		t.Parallel()
		r := NewRouted(t, RoutedOptions{NAT: true})
		s := natSetup(t, r.Right, r.Left, false)
		s.start(t)
		sa := checkEstablished(t, s.charon, s.iked, 20*time.Second)
		if !sa.NATLocal || sa.RemotePort != "4500" {
			t.Errorf("strongSwan: nat-local=%v remote port %s, want behind a NAT talking to 4500", sa.NATLocal, sa.RemotePort)
		}
		isa, _ := s.iked.WaitEstablished(cookieHex(sa.InitiatorSPI), cookieHex(sa.ResponderSPI), time.Second)
		if !strings.HasPrefix(isa.Remote, r.RouterRight.String()+":") || strings.HasSuffix(isa.Remote, ":500") || !strings.HasSuffix(isa.Local, ":4500") {
			t.Errorf("iked: local %s remote %s, want the router's address %s and port 4500", isa.Local, isa.Remote, r.RouterRight)
		}
	})
}

// natSetup is a PSK scenario between iked on ikedHost and strongSwan on
// swanHost with a NAT between them: the side behind the NAT is seen under
// the router's address, so the other side accepts any address and checks
// the identity (the real address, as in a real deployment).
func natSetup(t *testing.T, ikedHost, swanHost Host, ikedInitiates bool) *p1Setup {
	t.Helper()
	s := &p1Setup{ikedInitiates: ikedInitiates, psk: randomPSK(), swan: swanHost, ike: ikedHost}
	swanRemoteAddrs, ikedRemoteGW := ikedHost.Addr.String(), swanHost.Addr.String()
	if ikedInitiates {
		swanRemoteAddrs = "%any" // iked arrives as the router
	} else {
		ikedRemoteGW = "" // strongSwan arrives as the router
	}
	conn := Connection{LocalAddrs: swanHost.Addr.String(), RemoteAddrs: swanRemoteAddrs, Proposals: basePSK.swanProp,
		LocalID: swanHost.Addr.String(), RemoteID: ikedHost.Addr.String(), Children: []Child{{ESPProposals: "aes128-sha256"}}}
	s.charonOpt = CharonOptions{RetransmitTimeout: time.Second, RetransmitTries: 4,
		Connections: []Connection{conn},
		Secrets:     []Secret{{IDs: []string{swanHost.Addr.String(), ikedHost.Addr.String()}, PSK: []byte(s.psk)}}}
	s.ikedPol = IkedPolicy{Listen: ikedHost.Addr.String(), Conns: []IkedConn{{
		LocalGW: ikedHost.Addr.String(), RemoteGW: ikedRemoteGW,
		Ciphers: basePSK.ciphers, Hashes: basePSK.hashes, Groups: basePSK.groups, PSK: s.psk,
		LocalID: "ipv4:" + ikedHost.Addr.String(), RemoteID: "ipv4:" + swanHost.Addr.String(),
	}}}
	return s
}

// TestIkedLossyPath drops 10 % of the IKE packets at a router between the
// two, at random: retransmissions on both sides must still establish the
// SA. The router's counter shows how many were dropped.
func TestIkedLossyPath(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		r := NewRouted(t, RoutedOptions{DropPercent: 10})
		left, right := r.Left, r.Right // the initiator is on the left
		s := &p1Setup{}
		if ikedInitiates {
			s = natSetup(t, left, right, true)
			s.charonOpt.Connections[0].RemoteAddrs = left.Addr.String()
		} else {
			s = natSetup(t, right, left, false)
			s.ikedPol.Conns[0].RemoteGW = left.Addr.String()
		}
		s.ikedPol.RetransmitBase, s.ikedPol.RetransmitTries = 500*time.Millisecond, 6
		s.charonOpt.RetransmitTimeout, s.charonOpt.RetransmitBase, s.charonOpt.RetransmitTries = 500*time.Millisecond, 1.2, 10
		s.start(t)
		// A negotiation is a handful of datagrams, so one may cross
		// without loss: negotiate again (up to lossRounds times) until the
		// router has dropped some, so retransmission is really exercised.
		var seen []string
		for round := 1; ; round++ {
			sa := checkEstablishedExcept(t, s.charon, s.iked, 30*time.Second, seen...)
			seen = append(seen, cookieHex(sa.InitiatorSPI))
			n, err := r.Dropped()
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 || round == lossRounds {
				t.Logf("router dropped %d IKE packets over %d negotiations", n, round)
				if n == 0 {
					t.Logf("no loss happened: retransmission was not exercised this time")
				}
				return
			}
			if ikedInitiates {
				_, _ = s.iked.Call("terminate", "peer")
				if err := s.iked.Initiate("peer"); err != nil {
					t.Fatal(err)
				}
			} else {
				_ = s.charon.TerminateIKE("ike", 5*time.Second)
				initiateIKE(s.charon)
			}
		}
	})
}

// lossRounds bounds the negotiations of TestIkedLossyPath: with 10 % loss
// and about ten datagrams each, the chance that none is dropped in all of
// them is well under 1 %.
const lossRounds = 5
