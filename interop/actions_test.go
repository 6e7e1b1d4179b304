package interop

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A connection's behaviours against strongSwan (docs/policy-file.md,
// "Connection behaviours"): dpd.action restart when charon dies without a
// word, close-action restart when charon deletes the child or the whole
// IKE SA, and ike.send-cert never and if-asked as charon's log shows
// what iked sent. hold needs kernel policies that raise an ACQUIRE, so it
// is tested in virtual time (quickmode's TestDPDAction, TestCloseAction)
// rather than here with the engine none.

// actionsIked starts iked (initiate start) for a Quick Mode setup, with
// short retransmission and extra connection keys.
func actionsIked(t *testing.T, s *qmSetup, connExtra string) {
	t.Helper()
	s.iked = startIkedYAML(t, s.ike.NS, func(sock string) string {
		p := qmIkedPolicy(s.ike.Addr.String(), s.swan.Addr.String(), sock, s.psk, s.tc, "start", "66m", false, "none")
		return strings.Replace(p, "retransmit: {timeout: 1s, tries: 4}", "retransmit: {timeout: 500ms, tries: 2}", 1) + connExtra
	})
}

// waitIkedLine waits for a log line of iked with message msg whose fields
// include want, and returns it.
func waitIkedLine(t *testing.T, k *Iked, msg string, want map[string]string, timeout time.Duration) IkedLine {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range k.Lines() {
			if l.Msg != msg {
				continue
			}
			ok := true
			for f, v := range want {
				ok = ok && l.Fields[f] == v
			}
			if ok {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("iked logged no %q %v within %v:\n%s", msg, want, timeout, k.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitNewChild waits for charon to hold an INSTALLED child whose SPI is
// not old's and returns its IKE SA and it.
func waitNewChild(t *testing.T, s *qmSetup, old ChildSA, timeout time.Duration) (IKESA, ChildSA) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sas, _ := s.charon.ListSAs()
		for _, sa := range sas {
			for _, ch := range sa.Children {
				if sa.State == "ESTABLISHED" && ch.State == "INSTALLED" && ch.SPIIn != old.SPIIn {
					return sa, ch
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon has no new child within %v: %+v\niked:\n%s", timeout, sas, s.iked.catalogSummary())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestIkedDPDRestart: iked probes every second and gives up after 3 s
// (dpd: {delay: 1s, timeout: 3s, action: restart}, keying-tries forever);
// charon dies without a Delete (SIGKILL), iked declares it dead and
// initiates again at once, failing and retrying while charon is down;
// a new charon then gets phase 1 and Quick Mode from iked's retries
// (strongSwan's dpd_action = restart is the counterpart).
func TestIkedDPDRestart(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], true)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	actionsIked(t, s, "    dpd: {delay: 1s, timeout: 3s, action: restart}\n    keying-tries: forever\n")
	_, first, err := waitChild(s.charon, 20*time.Second)
	if err != nil {
		t.Fatalf("%v\niked:\n%s", err, s.iked.catalogSummary())
	}
	s.charon.kill()
	killed := time.Now()
	waitIkedLine(t, s.iked, "peer dead: dpd action", map[string]string{"action": "restart", "conn": "peer"}, 15*time.Second)
	t.Logf("declared dead %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	waitIkedLine(t, s.iked, "connection failed: retrying", map[string]string{"conn": "peer"}, 15*time.Second)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	_, ch := waitNewChild(t, s, first, 30*time.Second)
	t.Logf("re-established %v after the kill, child %s", time.Since(killed).Round(100*time.Millisecond), ch.SPIIn)
}

// TestIkedCloseActionRestart: iked's connection has close-action
// restart. child: charon deletes the child SA only (swanctl --terminate
// --child); iked negotiates a new Quick Mode on the same ISAKMP SA.
// ike: charon deletes the child and the IKE SA (swanctl --terminate
// --ike); iked starts phase 1 again. Either way charon ends with a new
// child (strongSwan's close_action = start is the counterpart).
func TestIkedCloseActionRestart(t *testing.T) {
	RequireStrongSwan(t)
	for _, what := range []string{"child", "ike"} {
		t.Run(what, func(t *testing.T) {
			t.Parallel()
			s := newQMSetup(t, qmCases[0], true)
			s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
			actionsIked(t, s, "    close-action: restart\n")
			ike, first, err := waitChild(s.charon, 20*time.Second)
			if err != nil {
				t.Fatalf("%v\niked:\n%s", err, s.iked.catalogSummary())
			}
			deleted := "ipsec-sa"
			if what == "child" {
				err = s.charon.TerminateChild("c", 10*time.Second)
			} else {
				deleted = "isakmp-sa"
				err = s.charon.TerminateIKE("ike", 10*time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			waitIkedLine(t, s.iked, "peer closed the connection: close-action", map[string]string{"action": "restart", "deleted": deleted}, 15*time.Second)
			newIKE, ch := waitNewChild(t, s, first, 20*time.Second)
			sameIKE := newIKE.InitiatorSPI == ike.InitiatorSPI && newIKE.ResponderSPI == ike.ResponderSPI
			if sameIKE != (what == "child") {
				t.Errorf("the new child is on IKE SA %s/%s, the old one was %s/%s", newIKE.InitiatorSPI, newIKE.ResponderSPI,
					ike.InitiatorSPI, ike.ResponderSPI)
			}
			t.Logf("new child %s %v after charon's delete", ch.SPIIn, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// parsedAuth matches charon's line for the peer's authenticating message
// (Main Mode's fifth or sixth, Aggressive Mode's second or third): the
// one with its SIG payload.
var parsedAuth = regexp.MustCompile(`parsed (ID_PROT|AGGRESSIVE) (request|response) \d+ \[([^\]]*\bSIG\b[^\]]*)\]`)

// TestIkedSendCert: certificate authentication with charon holding iked's
// certificate already (remote certs). With ike.send-cert never charon's
// log shows iked's authenticating message without a CERT payload and the
// SA is established all the same; with if-asked (charon sends a
// certificate request) it carries one. Both roles.
func TestIkedSendCert(t *testing.T) {
	RequireStrongSwan(t)
	tc := p1Case{auth: "rsa", ids: "dn", swanProp: "aes128-sha256-modp2048",
		ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"}}
	for _, send := range []string{"never", "if-asked"} {
		t.Run(send, func(t *testing.T) {
			bothRoles(t, func(t *testing.T, ikedInitiates bool) {
				s := newP1Setup(t, tc, ikedInitiates)
				s.ikedPol.Conns[0].SendCert = send
				s.charonOpt.Credentials.Certs = append(s.charonOpt.Credentials.Certs, s.ikedPol.Cert)
				s.charonOpt.Connections[0].RemoteCert = filepath.Base(s.ikedPol.Cert)
				s.start(t)
				checkEstablished(t, s.charon, s.iked, 20*time.Second)
				m := parsedAuth.FindStringSubmatch(s.charon.Log())
				if m == nil {
					t.Fatalf("charon logged no authenticating message of iked's")
				}
				hasCert := regexp.MustCompile(`\bCERT\b`).MatchString(m[3])
				if hasCert != (send == "if-asked") {
					t.Errorf("send-cert %s: iked's message to charon: [%s]", send, m[3])
				}
				t.Logf("charon parsed iked's [%s]", strings.TrimSpace(m[3]))
			})
		})
	}
}
