package interop

import (
	"bytes"
	"testing"
	"time"
)

// TestStrongSwanScenarios runs the other phase 1 kinds iked's interop tests
// use (Aggressive Mode PSK, RSA and ECDSA certificates from strongSwan's pki)
// and checks both sides agree on SKEYID_d and the child keys.
func TestStrongSwanScenarios(t *testing.T) {
	RequireStrongSwan(t)
	tests := []struct {
		name       string
		aggressive bool
		keyType    string // "" is PSK
		keySize    int
		proposals  string
		esp        string
	}{
		{"am-psk-modp2048", true, "", 0, "aes128-sha256-modp2048", "aes128-sha256"},
		{"mm-psk-3des-modp1024-pfs", false, "", 0, "3des-sha1-modp1024", "aes256-sha1-modp1024"},
		{"mm-rsa-modp2048", false, "rsa", 2048, "aes128-sha256-modp2048", "aes128-sha256"},
		{"mm-ecdsa-ecp256", false, "ecdsa", 256, "aes128-sha256-ecp256", "aes128gcm16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := NewPair(t)
			p.A.AddAddr(t, "203.0.113.1/32")
			p.B.AddAddr(t, "203.0.113.129/32")
			child := Child{LocalTS: "203.0.113.0/25", RemoteTS: "203.0.113.128/25", ESPProposals: tc.esp}
			var ini, resp *Charon
			if tc.keyType == "" {
				ini, resp = pskPair(t, p.A, p.B, Connection{Proposals: tc.proposals, Aggressive: tc.aggressive}, child, CharonOptions{LibIPsec: true})
			} else {
				pki := MakePKI(t, tc.keyType, tc.keySize, "initiator.example", "responder.example")
				conf := func(self, peer string, local, remote Host, ts Child) CharonOptions {
					return CharonOptions{
						LibIPsec: true,
						Connections: []Connection{{
							LocalAddrs: local.Addr.String(), RemoteAddrs: remote.Addr.String(), Proposals: tc.proposals,
							LocalAuth: "pubkey", RemoteAuth: "pubkey", LocalID: self, RemoteID: peer,
							LocalCert: self + "-cert.pem", SendCert: "always", Children: []Child{ts},
						}},
						Credentials: Credentials{CACerts: []string{pki.CACert}, Certs: []string{pki.Certs[self]}, Keys: []string{pki.Keys[self]}},
					}
				}
				rchild := child
				rchild.LocalTS, rchild.RemoteTS = child.RemoteTS, child.LocalTS
				resp = StartCharon(t, p.B.NS, conf("responder.example", "initiator.example", p.B, p.A, rchild))
				ini = StartCharon(t, p.A.NS, conf("initiator.example", "responder.example", p.A, p.B, child))
			}
			if err := ini.Initiate("c", 20*time.Second); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*Charon{ini, resp} {
				sa, err := c.WaitIKE("ike", "ESTABLISHED", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if len(sa.Children) != 1 || sa.Children[0].State != "INSTALLED" {
					t.Fatalf("children of %s: %+v", c.NS.Name, sa.Children)
				}
			}
			ki, kr := bothKeys(t, ini, resp)
			if len(ki.IKE) != 1 || len(kr.IKE) != 1 || len(ki.IKE[0].SKEYIDd) == 0 || !bytes.Equal(ki.IKE[0].SKEYIDd, kr.IKE[0].SKEYIDd) {
				t.Fatalf("SKEYID_d: initiator %+v, responder %+v", ki.IKE, kr.IKE)
			}
			if len(ki.Child) != 1 || len(kr.Child) != 1 || len(ki.Child[0].EncR) == 0 || !bytes.Equal(ki.Child[0].EncR, kr.Child[0].EncR) {
				t.Fatalf("child keys: initiator %+v, responder %+v", ki.Child, kr.Child)
			}
		})
	}
}
