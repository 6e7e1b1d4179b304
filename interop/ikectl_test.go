package interop

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// Live checks of `ikectl list-sas` and of iked's rekeying as responder
// against charon: what iked lists must be what charon's own
// `swanctl --list-sas` shows.

// ikedChildren is what `ikectl -json list-sas` lists: the bundles under
// established ISAKMP SAs.
func ikedChildren(t *testing.T, k *Iked) []control.ChildSA {
	t.Helper()
	resp, err := k.Call(control.CmdListSAs, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []control.ChildSA
	for _, sa := range resp.SAs {
		out = append(out, sa.Children...)
	}
	return out
}

// swanctlSPIs are the SPIs `swanctl --list-sas` prints for its CHILD_SAs
// ("in  c1234567,", "out c7654321,").
func swanctlSPIs(t *testing.T, c *Charon) (in, out map[string]bool) {
	t.Helper()
	text, err := c.Swanctl("--list-sas")
	if err != nil {
		t.Fatalf("swanctl --list-sas: %v\n%s", err, text)
	}
	in, out = map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(in|out)\s+([0-9a-f]{8})[_,]`).FindAllStringSubmatch(text, -1) {
		if m[1] == "in" {
			in[m[2]] = true
		} else {
			out[m[2]] = true
		}
	}
	if len(in) == 0 || len(out) == 0 {
		t.Fatalf("no CHILD_SA SPIs in swanctl --list-sas:\n%s", text)
	}
	return in, out
}

// TestIkectlListSAsMatchesCharon: in both roles, once the child SA is
// up, `ikectl -json list-sas` lists one bundle under the ISAKMP SA whose
// inbound SPI is charon's outbound one and whose outbound SPI is charon's
// inbound one, as `swanctl --list-sas` prints them, with charon's mode,
// algorithm and traffic selectors seen from iked's side.
func TestIkectlListSAsMatchesCharon(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		tc := qmCases[1] // aes256-sha1 with PFS modp2048
		s := newQMSetup(t, tc, ikedInitiates)
		s.up(t, ikedInitiates)
		_, ch, err := waitChild(s.charon, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var kids []control.ChildSA
		for end := time.Now().Add(10 * time.Second); len(kids) == 0 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			kids = ikedChildren(t, s.iked)
		}
		if len(kids) != 1 || len(kids[0].SAs) != 2 {
			t.Fatalf("iked lists %+v", kids)
		}
		swIn, swOut := swanctlSPIs(t, s.charon)
		k := kids[0]
		for _, sa := range k.SAs {
			spi := strings.TrimPrefix(sa.SPI, "0x")
			if sa.Protocol != "esp" || !strings.HasPrefix(sa.SPI, "0x") || len(spi) != 8 {
				t.Errorf("iked lists %+v", sa)
			}
			// Our inbound SA is charon's outbound one and the reverse.
			if (sa.Direction == "in" && !swOut[spi]) || (sa.Direction == "out" && !swIn[spi]) {
				t.Errorf("iked's %s SPI %s is not charon's (swanctl: in %v out %v)", sa.Direction, spi, swIn, swOut)
			}
			if !strings.HasPrefix(sa.Encryption, "ESP_AES/256") || !strings.HasPrefix(sa.Integrity, "HMAC-SHA") {
				t.Errorf("iked's algorithms %q %q; charon says %s %s", sa.Encryption, sa.Integrity, ch.EncrAlg, ch.IntegAlg)
			}
		}
		if !strings.EqualFold(k.Mode, ch.Mode) || k.PFS != "2048-bit MODP group" || ch.DHGroup != "MODP_2048" {
			t.Errorf("iked: mode %s PFS %s; charon: mode %s DH %s", k.Mode, k.PFS, ch.Mode, ch.DHGroup)
		}
		if len(ch.LocalTS) != 1 || len(ch.RemoteTS) != 1 || k.LocalTS != ch.RemoteTS[0] || k.RemoteTS != ch.LocalTS[0] {
			t.Errorf("iked's selectors %s === %s; charon's %v === %v", k.LocalTS, k.RemoteTS, ch.LocalTS, ch.RemoteTS)
		}
		wantRole := "responder"
		if ikedInitiates {
			wantRole = "initiator"
		}
		if k.Role != wantRole || k.State != "installed" || k.LifeSeconds == 0 || k.ExpiresIn == nil {
			t.Errorf("iked's bundle: %+v", k)
		}
		t.Logf("iked lists %s in %s out %s; charon in %s out %s", k.Conn, k.SAs[0].SPI, k.SAs[1].SPI, ch.SPIIn, ch.SPIOut)
	})
}

// TestIkectlRekeyCharon: `ikectl rekey peer` in both roles, with the
// child's lifetimes an hour away: iked starts a Quick Mode at once, as its
// initiator whoever began the first one, charon answers, and iked's
// Delete removes the old child from charon; afterwards iked lists one
// bundle, which it initiated, whose SPIs are charon's only child's. By
// the ISAKMP SA's cookie the same once more.
func TestIkectlRekeyCharon(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := newQMSetup(t, qmCases[0], ikedInitiates)
		s.ikedLife = "1h"
		s.up(t, ikedInitiates)
		for i, name := range []string{"peer", ""} {
			_, ch, err := waitChild(s.charon, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for end := time.Now().Add(10 * time.Second); len(ikedChildren(t, s.iked)) != 1; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("iked lists %+v", ikedChildren(t, s.iked))
				}
			}
			if name == "" {
				resp, err := s.iked.Call(control.CmdListSAs, "")
				if err != nil || len(resp.SAs) != 1 {
					t.Fatalf("list-sas: %v %+v", err, resp)
				}
				name = resp.SAs[0].ICookie
			}
			resp, err := s.iked.Call(control.CmdRekey, name)
			if err != nil || len(resp.Messages) != 1 || resp.Messages[0] != "1 IPsec SA bundle(s) of 1 ISAKMP SA(s) rekeying" {
				t.Fatalf("ikectl rekey %s: %v %+v", name, err, resp)
			}
			// waitRekeyed looks for charon's log of a Delete: the second
			// round needs a second one.
			if i == 0 {
				waitRekeyed(t, s, ch, 20*time.Second, "no rekey after ikectl rekey")
			} else {
				first := strings.ToLower(strings.TrimPrefix(ch.SPIIn, "0x"))
				for end := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
					now := childSPIs(s.charon)
					if len(now) == 1 && !now[first] && strings.Count(s.charon.Log(), "received DELETE for ESP CHILD_SA") >= 2 {
						break
					}
					if time.Now().After(end) {
						t.Fatalf("no second rekey: charon's children %v, first %s\niked:\n%s", now, first, s.iked.catalogSummary())
					}
				}
			}
			var kids []control.ChildSA
			for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if kids = ikedChildren(t, s.iked); len(kids) == 1 && kids[0].Role == "initiator" && kids[0].State == "installed" {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("iked lists %+v after its rekey, want one installed bundle it initiated", kids)
				}
			}
			swIn, swOut := swanctlSPIs(t, s.charon)
			for _, sa := range kids[0].SAs {
				spi := strings.TrimPrefix(sa.SPI, "0x")
				if (sa.Direction == "in" && !swOut[spi]) || (sa.Direction == "out" && !swIn[spi]) {
					t.Errorf("iked's %s SPI %s is not charon's (swanctl: in %v out %v)", sa.Direction, spi, swIn, swOut)
				}
			}
		}
		if n := strings.Count(s.iked.Output(), `"msg":"IPsec SA rekeying on request (ikectl rekey)"`); n != 2 {
			t.Errorf("iked logged %d rekeys on request, want 2\n%s", n, s.iked.catalogSummary())
		}
	})
}

// TestIkectlReauthCharon: `ikectl reauth peer` in both roles: iked
// initiates a new Main Mode to charon, the child moves to the new SA on
// both sides (its SPIs unchanged) and the old ISAKMP SA goes from both
// (iked's ISAKMP-only Delete), leaving one IKE_SA whose cookies are the
// new ones of iked's list-sas.
func TestIkectlReauthCharon(t *testing.T) {
	RequireStrongSwan(t)
	bothRoles(t, func(t *testing.T, ikedInitiates bool) {
		s := newQMSetup(t, qmCases[0], ikedInitiates)
		s.up(t, ikedInitiates)
		ike, ch, err := waitChild(s.charon, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.iked.Call(control.CmdReauth, "peer")
		if err != nil || len(resp.Messages) != 1 || resp.Messages[0] != "1 ISAKMP SA(s) reauthenticating" {
			t.Fatalf("ikectl reauth peer: %v %+v", err, resp)
		}
		var sas []IKESA
		var listed []control.SA
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			sas, _ = s.charon.ListSAs()
			r, err := s.iked.Call(control.CmdListSAs, "")
			if err != nil {
				t.Fatal(err)
			}
			listed = r.SAs
			if len(sas) == 1 && len(listed) == 1 && sas[0].State == "ESTABLISHED" && sas[0].InitiatorSPI != ike.InitiatorSPI &&
				strings.EqualFold(sas[0].InitiatorSPI, listed[0].ICookie) && len(sas[0].Children) == 1 &&
				sas[0].Children[0].SPIIn == ch.SPIIn && len(listed[0].Children) == 1 {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("after ikectl reauth: charon %+v, iked %+v\niked:\n%s", sas, listed, s.iked.catalogSummary())
			}
		}
		if sas[0].Initiator {
			t.Errorf("charon initiated the new IKE_SA; iked should have")
		}
		swIn, swOut := swanctlSPIs(t, s.charon)
		for _, sa := range listed[0].Children[0].SAs {
			spi := strings.TrimPrefix(sa.SPI, "0x")
			if (sa.Direction == "in" && !swOut[spi]) || (sa.Direction == "out" && !swIn[spi]) {
				t.Errorf("iked's %s SPI %s is not charon's (swanctl: in %v out %v)", sa.Direction, spi, swIn, swOut)
			}
		}
		if !strings.Contains(s.iked.Output(), `"msg":"reauthenticating ISAKMP SA on request (ikectl reauth)"`) {
			t.Errorf("iked's log lacks the reauthentication's start\n%s", s.iked.catalogSummary())
		}
	})
}

// TestIkedResponderRekeysCharon: charon initiates with a child lifetime
// far beyond iked's (rekey_time 60 s); iked, the Quick Mode responder,
// holds the child to its own 8 s (the lifetime it answers with), so its
// soft lifetime comes first: iked rekeys as Quick Mode initiator, charon
// answers, and iked's Delete of the old child removes it from charon.
func TestIkedResponderRekeysCharon(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], false)
	s.charonOpt.Connections[0].Children[0].RekeyTime = 60 * time.Second
	s.charonOpt.Connections[0].Children[0].LifeTime = 66 * time.Second
	s.ikedLife = "8s"
	s.startIked(t)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	if err := s.charon.Initiate("c", 20*time.Second); err != nil {
		t.Fatalf("swanctl --initiate: %v\niked:\n%s", err, s.iked.catalogSummary())
	}
	_, ch, err := waitChild(s.charon, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitRekeyed(t, s, ch, 20*time.Second, "no rekey by iked as responder")
	var rekeyed, asResponder bool
	for _, l := range s.iked.Lines() {
		rekeyed = rekeyed || l.Msg == "IPsec SA rekeyed: the old bundle is deleted"
	}
	asResponder = strings.Contains(s.iked.Output(), `"msg":"IPsec SA reached its soft lifetime: rekeying","conn":"peer","role":"responder"`)
	if !rekeyed || !asResponder {
		t.Errorf("iked's log lacks its rekey as responder (rekeyed %v, as responder %v)\n%s", rekeyed, asResponder, s.iked.catalogSummary())
	}
	kids := ikedChildren(t, s.iked)
	if len(kids) != 1 || kids[0].Role != "initiator" {
		t.Fatalf("iked lists %+v after its rekey, want one bundle it initiated", kids)
	}
	swIn, _ := swanctlSPIs(t, s.charon)
	for _, sa := range kids[0].SAs {
		if sa.Direction == "out" && !swIn[strings.TrimPrefix(sa.SPI, "0x")] {
			t.Errorf("iked's outbound %s is not charon's inbound %v", sa.SPI, swIn)
		}
	}
}

// TestIkedDeadPeerTakesChildren: iked initiates phase 1 and Quick Mode
// with charon and probes it (DPD 1 s, 3 s); charon is killed without a
// word. iked declares it dead and removes the ISAKMP SA with its IPsec SA
// bundle: `ikectl list-sas` lists neither, nor a detached bundle (what
// strongSwan does with dpd_action=clear).
func TestIkedDeadPeerTakesChildren(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], true)
	s.edit = func(p string) string {
		return strings.Replace(p, "  retransmit: {timeout: 1s, tries: 4}\n",
			"  retransmit: {timeout: 1s, tries: 4}\n  dpd: {delay: 1s, timeout: 3s}\n", 1)
	}
	s.ikedInitiates(t)
	if _, _, err := waitChild(s.charon, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); len(ikedChildren(t, s.iked)) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("iked lists no IPsec SA")
		}
	}
	s.charon.kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.iked.Call(control.CmdListSAs, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.SAs) == 0 && len(resp.Detached) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("iked still lists %+v (detached %+v) after its peer died", resp.SAs, resp.Detached)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(s.iked.Output(), `"msg":"IPsec SA removed with its ISAKMP SA","conn":"peer"`) ||
		!strings.Contains(s.iked.Output(), `"reason":"dead peer"`) {
		t.Errorf("iked's log does not say the IPsec SA went with the dead peer:\n%s", s.iked.catalogSummary())
	}
}

// TestIkedCharonReauthKeepsChildren: charon reauthenticates its IKEv1
// IKE_SA (rekey_time 6 s: a new Main Mode), moves the CHILD_SA to the new
// IKE_SA and deletes the old one with an ISAKMP Delete alone. iked keeps
// the IPsec SA bundle (removing it would cut the tunnel charon still
// uses) and lists it under the new ISAKMP SA with the SPIs charon shows.
func TestIkedCharonReauthKeepsChildren(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], false)
	s.charonOpt.Connections[0].RekeyTime = 6 * time.Second
	// over_time's default, a tenth of rekey_time, is 0 s at this scale:
	// charon's hard lifetime would come in the same second as the
	// reauthentication, and when its job ran first charon deleted the
	// IKE_SA and its CHILD_SA instead ("maximum IKE_SA lifetime 6s", then
	// QUICK_DELETE and ISAKMP_DELETE; one run in four here). charon keeps
	// the old IKE_SA, REKEYING, until that hard lifetime and deletes it
	// then: reauthentication at 5-6 s, the old one deleted at 8 s, the
	// next reauthentication at 10-12 s, so a single IKE_SA for at least
	// 2 s between (waitReauthenticated).
	s.charonOpt.Connections[0].OverTime = 2 * time.Second
	s.charonOpt.Connections[0].RandTime = time.Second
	s.startIked(t)
	s.charon = StartCharon(t, s.swan.NS, s.charonOpt)
	if err := s.charon.Initiate("c", 20*time.Second); err != nil {
		t.Fatalf("swanctl --initiate: %v\niked:\n%s", err, s.iked.catalogSummary())
	}
	first, ch, err := waitChild(s.charon, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sas, resp := waitReauthenticated(t, s, first, 25*time.Second)
	if len(resp.Detached) != 0 {
		t.Errorf("iked lists detached bundles %+v", resp.Detached)
	}
	// charon's list-sas from the same moment as iked's (the next
	// reauthentication may be under way by now).
	swIn := map[string]bool{}
	for _, c := range sas[0].Children {
		swIn[strings.ToLower(strings.TrimPrefix(c.SPIIn, "0x"))] = true
	}
	kept := false
	for _, k := range resp.SAs[0].Children {
		for _, sa := range k.SAs {
			if sa.Direction == "out" && swIn[strings.TrimPrefix(sa.SPI, "0x")] {
				kept = kept || strings.EqualFold(strings.TrimPrefix(sa.SPI, "0x"), strings.TrimPrefix(ch.SPIIn, "0x"))
			} else if sa.Direction == "out" {
				t.Errorf("iked's outbound SA %s is not one of charon's CHILD_SAs %v", sa.SPI, swIn)
			}
		}
	}
	t.Logf("charon's child %s/%s after the reauthentication: kept by iked %v; charon's children %v", ch.SPIIn, ch.SPIOut, kept, swIn)
	if swIn[strings.ToLower(strings.TrimPrefix(ch.SPIIn, "0x"))] && !kept {
		t.Errorf("charon kept its CHILD_SA %s across the reauthentication, iked did not", ch.SPIIn)
	}
}
