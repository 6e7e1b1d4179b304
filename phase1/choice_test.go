package phase1

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iked/iked/policymgr"
)

// roadWarriorPolicy has two connections that answer any peer gateway, told
// apart only by the peer's identity and pre-shared key.
func roadWarriorPolicy(t *testing.T, mode string) *policymgr.Policy {
	t.Helper()
	y := `transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048], lifetime: 8h}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals: {p: [esp]}
proposal-lists: {l: [p]}
connections:
  alice:
    local-address: 198.51.100.128/25
    remote-address: 203.0.113.0/25
    local-gw: 192.0.2.2
    initiate: never
    ike: {mode: ` + mode + `, transforms: [ike], auth: psk, psk: "alice secret", remote-id: "fqdn:alice.example"}
    proposal-list: l
  bob:
    local-address: 198.51.100.128/25
    remote-address: 203.0.113.128/25
    local-gw: 192.0.2.2
    initiate: never
    ike: {mode: ` + mode + `, transforms: [ike], auth: psk, psk: "bob secret", remote-id: "fqdn:bob.example"}
    proposal-list: l
`
	path := filepath.Join(t.TempDir(), "iked.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	p, msgs, err := policymgr.Load(path, policymgr.LoadOptions{})
	if err != nil || p == nil {
		t.Fatalf("policy: %v %v", err, msgs)
	}
	return p
}

// TestAggressivePSKByIdentity: the Aggressive Mode responder chooses the
// connection, and so the pre-shared key, by the identity in AM1.
func TestAggressivePSKByIdentity(t *testing.T) {
	pr := roadWarriorPolicy(t, "aggressive")
	for _, who := range []string{"alice", "bob"} {
		a, _ := pskPair("aggressive")
		a.psk, a.localID = who+" secret", "fqdn:"+who+".example"
		o := negotiate(t, policyFor(t, a), pr)
		if !o.iEst || !o.rEst {
			t.Fatalf("%s: not established\n%s", who, o.logText())
		}
		if o.r.SA.Conn.Name != who {
			t.Fatalf("%s got connection %s", who, o.r.SA.Conn.Name)
		}
	}
	// An identity neither connection names: message 41.
	a, _ := pskPair("aggressive")
	a.psk, a.localID = "alice secret", "fqdn:mallory.example"
	o := negotiate(t, policyFor(t, a), pr)
	if o.rEst || !o.has(false, 41) {
		t.Fatalf("unknown identity:\n%s", o.logText())
	}
}

// TestMainModeSwitchesConnectionByIdentity: the Main Mode responder picks
// a connection by address in MM1 and moves to another whose remote-id
// matches the identity revealed in MM5 when both use the same key.
func TestMainModeSwitchesConnectionByIdentity(t *testing.T) {
	pr := roadWarriorPolicy(t, "main")
	pr.Connections[1].IKE.PSK = pr.Connections[0].IKE.PSK
	a, _ := pskPair("main")
	a.psk, a.localID = "alice secret", "fqdn:bob.example"
	o := negotiate(t, policyFor(t, a), pr)
	if !o.iEst || !o.rEst || o.r.SA.Conn.Name != "bob" {
		t.Fatalf("not established on bob:\n%s", o.logText())
	}
}

// TestWipe checks that deleting an SA overwrites its secrets.
func TestWipe(t *testing.T) {
	a, b := pskPair("main")
	o := negotiateSides(t, a, b)
	s := o.i.SA
	skeyid, ka := s.keys.SKEYID, s.ka
	s.Wipe()
	for _, b := range append(append([]byte{}, skeyid...), ka...) {
		if b != 0 {
			t.Fatal("secret left after Wipe")
		}
	}
	if s.cipher != nil || s.Handshake != nil || s.State != StateDeleted {
		t.Fatal("keys still referenced after Wipe")
	}
}

// TestNoPublicKey: a responder with no trusted CA sends no certificate
// request, so the initiator sends no certificate, and nothing can verify
// its signature: message 50 and AUTHENTICATION-FAILED.
func TestNoPublicKey(t *testing.T) {
	a := side{mode: "main", auth: "p256", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	b.self, b.pkiDir, b.ca, b.cert, b.key = "b", filepath.Join("testdata", "pki"), "-", "p256-b.pem", "p256-b.key"
	o := negotiateSides(t, a, b)
	if o.rEst || !o.has(false, 50) || !o.logHas(false, 52, "AUTHENTICATION-FAILED") {
		t.Fatalf("responder:\n%s", o.logText())
	}
}

// TestUntrustedPeer: a peer certificate from a CA we do not trust fails
// with the chain error named in message 46.
func TestUntrustedPeer(t *testing.T) {
	a := side{mode: "main", auth: "rsa", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a"}
	b := a
	// b trusts the ECDSA CA only, but authenticates with an RSA certificate.
	b.self, b.pkiDir, b.ca, b.cert, b.key = "b", filepath.Join("testdata", "pki"), "ca-ec.pem", "rsa-b.pem", "rsa-b.key"
	o := negotiateSides(t, a, b)
	if o.rEst || !o.logHas(false, 46, "not trusted") {
		t.Fatalf("responder:\n%s", o.logText())
	}
}
