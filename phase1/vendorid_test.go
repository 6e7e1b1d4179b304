package phase1

import (
	"bytes"
	"crypto/md5"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// TestVendorIDsAreMD5 re-derives the Vendor IDs that are MD5 hashes of a
// known text from that text, so a typo in the table cannot hide.
func TestVendorIDsAreMD5(t *testing.T) {
	for _, tc := range []struct {
		text string
		id   []byte
	}{
		{"RFC 3947", vidRFC3947},
		{"draft-ietf-ipsec-nat-t-ike-03", vidDraft03},
		{"draft-ietf-ipsec-nat-t-ike-02", vidDraft02},
		{"draft-ietf-ipsec-nat-t-ike-02\n", vidDraft02N},
		{"draft-ietf-ipsra-isakmp-xauth-06.txt", vidXAuth},
		{"strongSwan", knownVendorIDs[0].ID},
		{"draft-ietf-ipsec-nat-t-ike-08", LookupNamed(t, "draft-ietf-ipsec-nat-t-ike-08")},
		{"draft-ietf-ipsec-nat-t-ike-00", LookupNamed(t, "draft-ietf-ipsec-nat-t-ike-00")},
	} {
		sum := md5.Sum([]byte(tc.text))
		if !bytes.HasPrefix(sum[:], tc.id) {
			t.Errorf("MD5(%q) = %x, table has %x", tc.text, sum, tc.id)
		}
	}
}

// LookupNamed returns the table's ID of the entry called name.
func LookupNamed(t *testing.T, name string) []byte {
	t.Helper()
	for _, v := range knownVendorIDs {
		if v.Name == name {
			return v.ID
		}
	}
	t.Fatalf("no vendor ID %q", name)
	return nil
}

// TestVendorIDLookup is a table of real Vendor IDs, including prefixed
// ones with a version (Cisco Unity 1.0, Windows with its version number)
// and the FRAGMENTATION capability rule.
func TestVendorIDLookup(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		kind VendorKind
		name string
	}{
		{"afcad71368a1f1c96b8696fc77570100", VendorDPD, "DPD"},
		{"09002689dfd6b712", VendorXAuth, "XAuth"},
		{"4a131c81070358455c5728f20e95452f", VendorNATTRFC3947, "NAT-T (RFC 3947)"},
		{"90cb80913ebb696e086381b5ec427b1f", VendorNATTDraft02N, `draft-ietf-ipsec-nat-t-ike-02\n`},
		{"cd60464335df21f87cfdb2fc68b6a448", VendorNATTDraft02, "draft-ietf-ipsec-nat-t-ike-02"},
		{"7d9419a65310ca6f2c179d9215529d56", VendorNATTDraft03, "draft-ietf-ipsec-nat-t-ike-03"},
		{"12f5f28c457168a9702d9fe274cc0100", VendorCiscoUnity, "Cisco Unity"},
		{"1e2b516905991c7d7c96fcbfb587e46100000009", VendorMSWindows, "MS NT5 ISAKMPOAKLEY"},
		{"4048b7d56ebce88525e7de7f00d6c2d380000000", VendorFragmentation, "FRAGMENTATION"},
		{"4048b7d56ebce88525e7de7f00d6c2d3", VendorFragmentation, "FRAGMENTATION"},
		{"4048b7d56ebce88525e7de7f00d6c2d340000000", VendorUnknown, "unknown 4048b7d56ebce88525e7de7f00d6c2d340000000"},
		{"882fe56d6fd20dbc2251613b2ebe5beb", VendorStrongSwan, "strongSwan"},
		{"afcad71368a1f1c96b8696fc775701", VendorUnknown, "unknown afcad71368a1f1c96b8696fc775701"},
		{"", VendorUnknown, "unknown "},
	} {
		v := LookupVendorID(mustHex(tc.hex))
		if v.Kind != tc.kind || v.Name != tc.name {
			t.Errorf("%s: %v %q, want %v %q", tc.hex, v.Kind, v.Name, tc.kind, tc.name)
		}
	}
	long := LookupVendorID(bytes.Repeat([]byte{0xab}, 1000))
	if len(long.Name) > len("unknown ")+2*maxVendorIDLog {
		t.Errorf("unknown vendor ID name of %d bytes", len(long.Name))
	}
}

// vendorLogRE matches charon's "received X vendor ID" lines.
var vendorLogRE = regexp.MustCompile(`\[IKE\] received (.*) vendor ID$`)

// TestStrongSwanVendorIDs reads the first message of each side of every
// recorded strongSwan run: every Vendor ID is recognised, by the name
// charon's own log gave it, and the extensions come out as strongSwan
// announced them (DPD, NAT-T RFC 3947, XAuth, FRAGMENTATION).
func TestStrongSwanVendorIDs(t *testing.T) {
	runs, _ := filepath.Glob(filepath.Join("..", "interop", "testdata", "strongswan-runs", "[a-h]-*"))
	if len(runs) < 5 {
		t.Fatalf("runs: %v", runs)
	}
	for _, dir := range runs {
		run := "strongswan-" + filepath.Base(dir)
		files := captureFiles(t, run)
		var names []string
		for _, f := range files[:2] {
			m, err := isakmp.Decode(readCapture(t, f))
			if err != nil {
				t.Fatal(err)
			}
			var vids [][]byte
			for _, p := range m.Payloads {
				if v, ok := p.(*isakmp.VendorID); ok {
					vids = append(vids, v.Data)
				}
			}
			e := PeerExtensions(vids)
			if !e.DPD || e.NATT != NATTRFC3947 || !e.XAuth {
				t.Errorf("%s: extensions %+v", filepath.Base(f), e)
			}
			for _, s := range e.Seen {
				if s.Kind == VendorUnknown {
					t.Errorf("%s: %v", filepath.Base(f), s)
				}
				names = append(names, s.Name)
			}
		}
		// charon logs what it received from the other side; both logs
		// together name what both first messages held.
		var logged []string
		for _, side := range []string{"responder", "initiator"} {
			b, err := os.ReadFile(filepath.Join(dir, side+".log"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if m := vendorLogRE.FindStringSubmatch(line); m != nil {
					logged = append(logged, m[1])
				}
			}
		}
		if len(logged) < 4 {
			t.Errorf("%s: charon logged only %v", run, logged)
		}
		for _, n := range logged {
			found := false
			for _, o := range names {
				found = found || o == n
			}
			if !found {
				t.Errorf("%s: charon logged %q, we named %v", run, n, names)
			}
		}
	}
}

// TestOurVendorIDs: the initiator announces DPD and the NAT-T family with
// exactly strongSwan's bytes; a responder echoes the NAT-T version it
// chose; with NAT-T off no NAT-T ID goes out.
func TestOurVendorIDs(t *testing.T) {
	files := captureFiles(t, runG)
	m, _ := isakmp.Decode(readCapture(t, files[0]))
	var sent [][]byte
	for _, p := range m.Payloads {
		if v, ok := p.(*isakmp.VendorID); ok {
			sent = append(sent, v.Data)
		}
	}
	in := func(id []byte) bool {
		for _, s := range sent {
			if bytes.Equal(s, id) {
				return true
			}
		}
		return false
	}
	for _, id := range [][]byte{vidDPD, vidRFC3947, vidDraft02N} {
		if !in(id) {
			t.Errorf("strongSwan did not send %x", id)
		}
	}
	got := OurVendorIDs(VendorIDOptions{NATT: true, DPD: true, Initiator: true})
	e := PeerExtensions(got)
	if !e.DPD || e.NATT != NATTRFC3947 || len(got) != 4 {
		t.Errorf("initiator sends %x", got)
	}
	r := OurVendorIDs(VendorIDOptions{NATT: true, DPD: true, PeerNATT: NATTDraft02N})
	if len(r) != 2 || !bytes.Equal(r[1], vidDraft02N) {
		t.Errorf("responder to a draft-02\\n peer sends %x", r)
	}
	if off := OurVendorIDs(VendorIDOptions{DPD: true, Initiator: true}); len(off) != 1 || !bytes.Equal(off[0], vidDPD) {
		t.Errorf("NAT-T off sends %x", off)
	}
	if none := OurVendorIDs(VendorIDOptions{NATT: true, PeerNATT: NATTNone}); len(none) != 0 {
		t.Errorf("responder to a peer without NAT-T sends %x", none)
	}
	// The peer's best version wins whatever the order.
	if v := PeerExtensions([][]byte{vidDraft02N, vidRFC3947, vidDraft03}).NATT; v != NATTRFC3947 {
		t.Errorf("best of three: %v", v)
	}
	if v := PeerExtensions([][]byte{vidDraft02N, vidDraft02}).NATT; v != NATTDraft02 || !v.Draft() {
		t.Errorf("best of the drafts: %v", v)
	}
	// A flood of Vendor IDs is bounded.
	many := make([][]byte, 1000)
	for i := range many {
		many[i] = vidDPD
	}
	if e := PeerExtensions(many); len(e.Seen) != maxVendorIDs {
		t.Errorf("%d vendor IDs looked at", len(e.Seen))
	}
}

// TestUnityVendorID: a mode-config connection announces Cisco Unity 1.0,
// last, and reads it back as Unity; without mode-config it is not sent.
func TestUnityVendorID(t *testing.T) {
	got := OurVendorIDs(VendorIDOptions{DPD: true, Initiator: true, Unity: true})
	if len(got) != 2 || !bytes.Equal(got[1], vidUnity) {
		t.Fatalf("sent %x", got)
	}
	if v := LookupVendorID(got[1]); v.Kind != VendorCiscoUnity {
		t.Errorf("Unity ID looks up as %v", v)
	}
	if !PeerExtensions(got).Unity {
		t.Error("Unity not seen")
	}
	for _, id := range OurVendorIDs(VendorIDOptions{DPD: true, NATT: true, Initiator: true}) {
		if bytes.Equal(id, vidUnity) {
			t.Error("Unity sent without mode-config")
		}
	}
	// The hooks send it for the SA's connection with mode-config, in
	// either role.
	h := NewHooks(NATTConfig{Port: 4500, DPD: true})
	mc := &policymgr.Connection{Name: "rw", ModeConfig: &policymgr.ModeConfig{PoolName: "p"}}
	for _, role := range []daemon.Role{daemon.RoleInitiator, daemon.RoleResponder} {
		got := h.VendorIDs(&SA{Role: role, Conn: mc})
		if len(got) == 0 || !bytes.Equal(got[len(got)-1], vidUnity) {
			t.Errorf("%v with mode-config sends %x", role, got)
		}
		if got := h.VendorIDs(&SA{Role: role, Conn: &policymgr.Connection{}}); bytes.Equal(got[len(got)-1], vidUnity) {
			t.Errorf("%v without mode-config sends Unity", role)
		}
	}
}
