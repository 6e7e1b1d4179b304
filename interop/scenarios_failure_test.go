package interop

import (
	"strings"
	"testing"
	"time"
)

// The failing scenarios: each must fail with the catalog
// message on iked's side, the right notify on the wire (seen in
// strongSwan's log) and nothing established on either side.

// basePSK is the suite the failure scenarios start from.
var basePSK = p1Case{name: "base", auth: "psk", ids: "ipv4", swanProp: "aes128-sha256-modp2048",
	ciphers: []string{"aes128"}, hashes: []string{"sha256"}, groups: []string{"modp2048"}}

// failSetup is newP1Setup with short retransmissions on both sides, so an
// exchange that gets no answer gives up within seconds.
func failSetup(t *testing.T, tc p1Case, ikedInitiates bool) *p1Setup {
	t.Helper()
	s := newP1Setup(t, tc, ikedInitiates)
	s.ikedPol.RetransmitBase, s.ikedPol.RetransmitTries = 500*time.Millisecond, 2
	s.charonOpt.RetransmitTimeout, s.charonOpt.RetransmitTries = 500*time.Millisecond, 2
	return s
}

// role is the word message 46 uses for iked's side.
func role(ikedInitiates bool) string {
	if ikedInitiates {
		return "Phase-1 [initiator]"
	}
	return "Phase-1 [responder]"
}

// settle waits a moment for retransmissions and deletes to finish, then
// checks nothing is established on either side.
func settle(t *testing.T, s *p1Setup) {
	t.Helper()
	time.Sleep(time.Second)
	noneEstablished(t, s.charon, s.iked)
}

// waitLog waits until strongSwan's log contains text.
func waitLog(t *testing.T, c *Charon, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.Log(), text) {
		if time.Now().After(deadline) {
			t.Errorf("strongSwan's log has no %q after %v", text, timeout)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// swanSays returns the last n lines of strongSwan's log about the
// negotiation (IKE and ENC groups, no key dumps), for the test log.
func swanSays(c *Charon, n int) string {
	var out []string
	for _, l := range strings.Split(c.Log(), "\n") {
		if (strings.Contains(l, "[IKE]") || strings.Contains(l, "[ENC]")) && !strings.Contains(l, " => ") &&
			!dumpLineRE.MatchString(l) && !strings.Contains(l, "task") {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// bothRoles runs f as two parallel subtests, iked responder and initiator.
func bothRoles(t *testing.T, f func(t *testing.T, ikedInitiates bool)) {
	for _, ini := range []bool{false, true} {
		name := "iked-responder"
		if ini {
			name = "iked-initiator"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, ini)
		})
	}
}

// TestIkedWrongPSK: the two sides hold different pre-shared keys, in Main
// Mode and in Aggressive Mode. iked logs message 46 with its reason;
// neither side establishes.
func TestIkedWrongPSK(t *testing.T) {
	RequireStrongSwan(t)
	t.Run("main", func(t *testing.T) { t.Parallel(); wrongPSK(t, basePSK) })
	am := basePSK
	am.aggressive, am.ids = true, "fqdn"
	t.Run("aggressive", func(t *testing.T) { t.Parallel(); wrongPSK(t, am) })
}

func wrongPSK(t *testing.T, tc p1Case) {
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := failSetup(t, tc, ikedInitiates)
		s.charonOpt.Secrets[0].PSK = []byte(randomPSK())
		s.start(t)
		if tc.aggressive && !ikedInitiates {
			// strongSwan, the initiator, is the one that finds HASH_R
			// wrong; it answers [HASH N(AUTH_FAILED)] under its own keys,
			// which iked cannot open: message 46 says so (phase1.HalfOpen).
			waitLog(t, s.charon, "calculated HASH does not match HASH payload", 10*time.Second)
		}
		msg, err := s.iked.WaitCatalog(46, 15*time.Second, role(ikedInitiates))
		if err != nil {
			t.Fatalf("%v\nstrongSwan:\n%s", err, swanSays(s.charon, 8))
		}
		_, reason, _ := strings.Cut(msg, "failed; ")
		if strings.TrimSpace(reason) == "" {
			t.Errorf("message 46 gives no reason: %q", msg)
		}
		if (!ikedInitiates || tc.aggressive) && !strings.Contains(reason, "pre-shared key") {
			// Where iked is the one that finds out (MM5 undecryptable,
			// AM's HASH_R or HASH_I wrong), the reason must point at the
			// key. As Main Mode initiator it only sees strongSwan's
			// answer, which its own key cannot open.
			t.Errorf("message 46 does not name the pre-shared key as the likely cause: %q", msg)
		}
		if tc.aggressive && !ikedInitiates && !strings.Contains(reason, "decrypt") {
			// Within 15 s, long before the half-open lifetime (60 s):
			// the reason is strongSwan's notify, not a timeout.
			t.Errorf("message 46 does not say strongSwan's message did not decrypt: %q", msg)
		}
		t.Logf("iked: %s", msg)
		t.Logf("strongSwan:\n%s", swanSays(s.charon, 8))
		settle(t, s)
	})
}

// TestIkedNoProposalChosen: strongSwan offers only what iked does not
// accept (and the other way round). The responder sends
// NO-PROPOSAL-CHOSEN; iked logs 46 naming the mismatch, and 52 when it
// sends the notify (responder) or 48/51 when it receives it (initiator).
func TestIkedNoProposalChosen(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := failSetup(t, basePSK, ikedInitiates)
		s.charonOpt.Connections[0].Proposals = "aes256-sha384-modp3072"
		s.start(t)
		msg, err := s.iked.WaitCatalog(46, 15*time.Second, role(ikedInitiates))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("iked: %s", msg)
		if ikedInitiates {
			// charon: "no proposal found", then an INFORMATIONAL_V1 with
			// N(NO_PROP) in the clear.
			waitLog(t, s.charon, "no proposal found", 5*time.Second)
			waitLog(t, s.charon, "[ N(NO_PROP) ]", 5*time.Second)
			if len(s.iked.Catalog(48))+len(s.iked.Catalog(51)) == 0 {
				t.Errorf("iked logged neither 48 nor 51 for strongSwan's NO-PROPOSAL-CHOSEN:\n%s", s.iked.catalogSummary())
			}
			if !strings.Contains(msg, "NO-PROPOSAL-CHOSEN") {
				t.Errorf("message 46 does not say the peer chose no proposal: %q", msg)
			}
		} else {
			if _, err := s.iked.WaitCatalog(52, 5*time.Second, "NO-PROPOSAL-CHOSEN"); err != nil {
				t.Error(err)
			}
			// The reason names what did not match, with the peer's
			// value: it offered AES-256, SHA2-384 and MODP-3072 (group 15)
			// where iked wants AES-128, SHA2-256 and MODP-2048.
			_, reason, _ := strings.Cut(msg, "NO-PROPOSAL-CHOSEN")
			if !strings.ContainsAny(reason, ":") || !containsAny(strings.ToLower(reason), "256", "384", "3072", "15", "sha") {
				t.Errorf("message 46 does not name the mismatching attribute and the offered value: %q", msg)
			}
			waitLog(t, s.charon, "received NO_PROPOSAL_CHOSEN error notify", 5*time.Second)
		}
		settle(t, s)
	})
}

// TestIkedUnknownPeer: the peer's address matches no connection (54 in
// phase 1: "SPD rejected conn"), or its identity matches none (41 "Can
// not get policy"); as initiator, iked is the unknown peer of a strongSwan
// that has no configuration for it.
func TestIkedUnknownPeer(t *testing.T) {
	RequireStrongSwan(t)
	t.Run("address/iked-responder", func(t *testing.T) {
		t.Parallel()
		s := failSetup(t, basePSK, false)
		s.ikedPol.Conns[0].RemoteGW = "203.0.113.200" // not strongSwan
		s.start(t)
		if _, err := s.iked.WaitCatalog(54, 15*time.Second, s.swan.Addr.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.iked.WaitCatalog(52, 5*time.Second, "NO-PROPOSAL-CHOSEN"); err != nil {
			t.Error(err)
		}
		waitLog(t, s.charon, "received NO_PROPOSAL_CHOSEN error notify", 5*time.Second)
		settle(t, s)
	})
	t.Run("identity/iked-responder", func(t *testing.T) {
		t.Parallel()
		s := failSetup(t, basePSK, false)
		s.ikedPol.Conns[0].RemoteID = "fqdn:someone-else.example"
		s.start(t)
		if _, err := s.iked.WaitCatalog(41, 15*time.Second, s.swan.Addr.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.iked.WaitCatalog(46, 5*time.Second, role(false)); err != nil {
			t.Error(err)
		}
		// The peer gets the notify and can read it (it is protected with
		// the phase 1 keys and the IV after the last phase 1 message).
		waitLog(t, s.charon, "received INVALID_ID_INFORMATION error notify", 5*time.Second)
		settle(t, s)
		t.Logf("strongSwan:\n%s", swanSays(s.charon, 6))
	})
	t.Run("identity/iked-initiator", func(t *testing.T) {
		t.Parallel()
		s := failSetup(t, basePSK, true)
		s.ikedPol.Conns[0].RemoteID = "fqdn:someone-else.example"
		s.start(t)
		if _, err := s.iked.WaitCatalog(41, 15*time.Second, s.swan.Addr.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.iked.WaitCatalog(46, 5*time.Second, role(true)); err != nil {
			t.Error(err)
		}
		// strongSwan, the responder, considers the SA established once it
		// sent MM6: iked must tell it the SA is gone, with a Delete after
		// the notify. charon handles the two datagrams, sent back to back,
		// in worker threads of its own: when the Delete is handled first
		// the SA is gone and the notify is dropped unread, so only the
		// Delete is required here. That the peer can read such a notify
		// (the phase 1 keys, the IV after the last phase 1 message) is
		// shown by identity/iked-responder above and, with both messages,
		// by phase1's TestFailureNotifyReadableByPeer.
		waitLog(t, s.charon, "received DELETE for IKE_SA", 5*time.Second)
		settle(t, s)
		t.Logf("strongSwan:\n%s", swanSays(s.charon, 6))
	})
	t.Run("address/iked-initiator", func(t *testing.T) {
		t.Parallel()
		s := failSetup(t, basePSK, true)
		// strongSwan only talks to another address: iked is unknown to it.
		s.charonOpt.Connections[0].RemoteAddrs = "203.0.113.200"
		s.start(t)
		waitLog(t, s.charon, "no IKE config found", 10*time.Second)
		msg, err := s.iked.WaitCatalog(46, 15*time.Second, role(true))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("iked: %s", msg)
		if len(s.iked.Catalog(48))+len(s.iked.Catalog(51)) == 0 {
			t.Errorf("iked logged neither 48 nor 51 for strongSwan's refusal:\n%s", s.iked.catalogSummary())
		}
		settle(t, s)
	})
}
