package interop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ike-scan as a second real initiator, which shares no code with iked.

// TestIkedIKEScanMainMode: `ike-scan -M` offers its default transforms and
// iked (the responder) returns the one its policy accepts; an offer it does
// not accept gets NO-PROPOSAL-CHOSEN.
func TestIkedIKEScanMainMode(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, IKEScanPath)
	t.Parallel()
	p := NewPair(t)
	StartIked(t, p.B.NS, IkedPolicy{Listen: p.B.Addr.String(), Conns: []IkedConn{{
		LocalGW: p.B.Addr.String(), RemoteGW: p.A.Addr.String(),
		// ike-scan's default offer includes 3DES-SHA1-modp1024.
		Ciphers: []string{"aes128", "3des"}, Hashes: []string{"sha256", "sha1"}, Groups: []string{"modp2048", "modp1024"},
		PSK: randomPSK(),
	}}})
	res, err := IKEScan(p.A.NS, p.B.Addr.String(), "-M")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Handshake() || !strings.Contains(res.SA, "Enc=3DES Hash=SHA1 Group=2:modp1024 Auth=PSK") {
		t.Fatalf("ike-scan -M: %q SA %q\n%s", res.Outcome, res.SA, res.Raw)
	}
	t.Logf("ike-scan -M: %s; VIDs %q", res.SA, res.VIDs)
	// iked announces DPD (RFC 3706, 5.1) in its first message; ike-scan
	// names the Vendor ID from its own table.
	if !slices.ContainsFunc(res.VIDs, func(v string) bool { return strings.HasPrefix(v, "afcad71368a1f1c96b8696fc77570100") }) {
		t.Errorf("no DPD vendor ID in iked's answer: %q", res.VIDs)
	}
	checkScanTransforms(t, p)
}

// TestIkedIKEScanPSKCrack: ike-scan runs Aggressive Mode against iked and
// saves iked's HASH_R with everything that went into it; psk-crack then
// finds the configured PSK among decoys, which it can only do if iked
// computed SKEYID and HASH_R as RFC 2409, 5 and 5.4 say.
func TestIkedIKEScanPSKCrack(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, IKEScanPath, PSKCrackPath)
	t.Parallel()
	p := NewPair(t)
	psk := randomPSK()
	StartIked(t, p.B.NS, IkedPolicy{Listen: p.B.Addr.String(), Conns: []IkedConn{{
		LocalGW: p.B.Addr.String(), RemoteGW: p.A.Addr.String(), Aggressive: true,
		Ciphers: []string{"3des"}, Hashes: []string{"sha1"}, Groups: []string{"modp1024"},
		PSK: psk, LocalID: "fqdn:iked.example", RemoteID: "fqdn:scanner.example",
	}}})
	words := []string{"password", randomPSK(), psk, randomPSK()}
	res, got, err := CrackAggressivePSK(t, p.A.NS, p.B.Addr.String(), "scanner.example", words)
	if err != nil {
		t.Fatal(err)
	}
	if got != psk {
		t.Fatalf("psk-crack found %q in iked's Aggressive Mode answer, want the configured PSK\n%s", got, res.Raw)
	}
	if !strings.Contains(res.ID, "iked.example") {
		t.Errorf("iked's Aggressive Mode ID: %q", res.ID)
	}
}

// TestIkedIKEScanMainOnlyRefusesAggressive: the same Aggressive Mode
// dictionary-attack probe as TestIkedIKEScanPSKCrack against a `mode:
// main` connection with the same key: iked answers NO-PROPOSAL-CHOSEN, so
// ike-scan saves nothing to crack (its --pskcrack file stays empty) and
// iked logs messages 46 and 52.
func TestIkedIKEScanMainOnlyRefusesAggressive(t *testing.T) {
	RequireStrongSwan(t)
	RequireRoot(t, IKEScanPath)
	t.Parallel()
	p := NewPair(t)
	k := StartIked(t, p.B.NS, IkedPolicy{Listen: p.B.Addr.String(), Conns: []IkedConn{{
		LocalGW: p.B.Addr.String(), RemoteGW: p.A.Addr.String(),
		Ciphers: []string{"3des"}, Hashes: []string{"sha1"}, Groups: []string{"modp1024"},
		PSK: randomPSK(), LocalID: "fqdn:iked.example", RemoteID: "fqdn:scanner.example",
	}}})
	crack := filepath.Join(t.TempDir(), "hash_r.crack")
	res, err := IKEScan(p.A.NS, p.B.Addr.String(), "-A", "--id=scanner.example", "--idtype=2", "--pskcrack="+crack)
	if err != nil {
		t.Fatal(err)
	}
	if res.Handshake() || !strings.Contains(res.Outcome, "NO-PROPOSAL-CHOSEN") {
		t.Errorf("ike-scan -A against a main-only connection: %q, want NO-PROPOSAL-CHOSEN\n%s", res.Outcome, res.Raw)
	}
	if data, err := os.ReadFile(crack); err == nil && len(data) != 0 {
		t.Errorf("ike-scan saved material to crack: %q", data)
	}
	for _, n := range []int{46, 52} {
		if _, err := k.WaitCatalog(n, 5*time.Second); err != nil {
			t.Error(err)
		}
	}
}
