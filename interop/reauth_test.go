package interop

import (
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/control"
)

// TestIkedReauthKeepsCharonChild: iked initiates with an ISAKMP lifetime
// of 20 s (charon's own is the default 4 h), so iked reauthenticates
// before it ends (phase1/reauth.go: at 17 to 18 s, a new Main Mode
// without INITIAL-CONTACT), moves the IPsec SA bundle to the new ISAKMP SA
// and deletes the old one with an ISAKMP-only Delete. charon's
// `swanctl --list-sas` then shows one IKE_SA, the new one, ESTABLISHED,
// with the CHILD_SA still INSTALLED with the same SPIs; iked lists the
// same bundle under the same new ISAKMP SA.
func TestIkedReauthKeepsCharonChild(t *testing.T) {
	RequireStrongSwan(t)
	s := newQMSetup(t, qmCases[0], true)
	s.edit = func(p string) string {
		p = strings.Replace(p, "  phase2-lifetime-min: 1s\n", "  phase2-lifetime-min: 1s\n  phase1-lifetime-min: 1s\n", 1)
		return strings.Replace(p, "groups: [modp2048]}", "groups: [modp2048], lifetime: 20s}", 1)
	}
	s.ikedInitiates(t)
	first, ch, err := waitChild(s.charon, 15*time.Second)
	if err != nil {
		t.Fatalf("%v\niked:\n%s", err, s.iked.catalogSummary())
	}
	start := time.Now()
	sas, resp := waitReauthenticated(t, s, first, 30*time.Second)
	took := time.Since(start)
	if len(sas[0].Children) != 1 {
		t.Fatalf("charon's new IKE_SA has %d CHILD_SAs, want the one it had: %+v", len(sas[0].Children), sas[0].Children)
	}
	got := sas[0].Children[0]
	if got.State != "INSTALLED" || got.SPIIn != ch.SPIIn || got.SPIOut != ch.SPIOut {
		t.Errorf("charon's CHILD_SA after the reauthentication: %s in %s out %s, before INSTALLED in %s out %s",
			got.State, got.SPIIn, got.SPIOut, ch.SPIIn, ch.SPIOut)
	}
	if len(resp.Detached) != 0 || len(resp.SAs[0].Children) != 1 {
		t.Errorf("iked lists children %+v detached %+v, want the one bundle under the new SA", resp.SAs[0].Children, resp.Detached)
	}
	for _, sa := range resp.SAs[0].Children[0].SAs {
		want := ch.SPIOut // iked's inbound is charon's outbound
		if sa.Direction == "out" {
			want = ch.SPIIn
		}
		if !strings.EqualFold(strings.TrimPrefix(sa.SPI, "0x"), strings.TrimPrefix(want, "0x")) {
			t.Errorf("iked's %s SPI %s after the reauthentication, charon's is %s", sa.Direction, sa.SPI, want)
		}
	}
	// charon moved the CHILD_SA itself (adopt_children_job.c) before
	// iked's Delete of the old ISAKMP SA came.
	if log := s.charon.Log(); !strings.Contains(log, "detected reauth of existing IKE_SA, adopting 1 children") {
		t.Errorf("charon did not adopt the CHILD_SA into the new IKE_SA:\n%s", s.charon.Tail(60))
	}
	out := s.iked.Output()
	for _, want := range []string{"reauthenticating ISAKMP SA", "ISAKMP SA reauthenticated", `"reason":"reauthenticated"`} {
		if !strings.Contains(out, want) {
			t.Errorf("iked's log lacks %q:\n%s", want, s.iked.catalogSummary())
		}
	}
	if strings.Contains(out, "lifetime expired") {
		t.Errorf("iked let an ISAKMP SA expire:\n%s", s.iked.catalogSummary())
	}
	t.Logf("reauthenticated %v after the CHILD_SA was up: IKE_SA %s -> %s, CHILD_SA in %s out %s kept",
		took.Round(100*time.Millisecond), first.InitiatorSPI, sas[0].InitiatorSPI, ch.SPIIn, ch.SPIOut)
}

// waitReauthenticated waits until charon holds one established IKE_SA
// other than first and iked lists the same one, established and with
// IPsec SAs under it: the SA was reauthenticated. It returns what both
// listed at that moment.
func waitReauthenticated(t *testing.T, s *qmSetup, first IKESA, limit time.Duration) ([]IKESA, *control.Response) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		sas, _ := s.charon.ListSAs()
		resp, err := s.iked.Call(control.CmdListSAs, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(sas) == 1 && sas[0].InitiatorSPI != first.InitiatorSPI && sas[0].State == "ESTABLISHED" &&
			len(resp.SAs) == 1 && resp.SAs[0].Established && cookieHex(sas[0].InitiatorSPI) == resp.SAs[0].ICookie &&
			len(resp.SAs[0].Children) > 0 {
			return sas, resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reauthentication within %v: charon %+v\niked %+v detached %+v\n%s\ncharon:\n%s",
				limit, sas, resp.SAs, resp.Detached, s.iked.catalogSummary(), s.charon.Tail(60))
		}
		time.Sleep(300 * time.Millisecond)
	}
}
