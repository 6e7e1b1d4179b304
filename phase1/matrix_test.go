package phase1

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/iked/iked/isakmp"
)

// ids returns the local-id of gateway self ("a" or "b") for an ID type,
// matching testdata/pki's certificates.
func idOf(kind, self string) string {
	switch kind {
	case "ipv4":
		if self == "a" {
			return "ipv4:192.0.2.1"
		}
		return "ipv4:192.0.2.2"
	case "fqdn":
		return "fqdn:" + self + ".example.org"
	}
	return "dn:C=FI, O=Phase1 Test, CN=" + self + ".example.org"
}

// TestMatrix negotiates every combination of the scenarios that
// needs no real peer: Main and Aggressive Mode × PSK, RSA, ECDSA P-256 and
// P-384 × groups 2, 14, 19, 20 × AES-128, AES-256, 3DES × SHA1, SHA2-256,
// with the ID type (IPv4, FQDN, DN) rotating so each appears with every
// mode, authentication and group. Both sides must derive the same keys,
// the responder's choice must be the expected transform, and every
// datagram of the whole run must dissect cleanly in tshark.
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("matrix of 192 negotiations")
	}
	var all []wire
	n := 0
	for _, mode := range []string{"main", "aggressive"} {
		for _, auth := range []string{"psk", "rsa", "p256", "p384"} {
			for _, group := range []string{"modp1024", "modp2048", "ecp256", "ecp384"} {
				for _, cipher := range []string{"aes128", "aes256", "3des"} {
					for _, hash := range []string{"sha1", "sha256"} {
						idk := []string{"ipv4", "fqdn", "dn"}[n%3]
						n++
						name := fmt.Sprintf("%s/%s/%s/%s/%s/%s", mode, auth, group, cipher, hash, idk)
						t.Run(name, func(t *testing.T) {
							a := side{mode: mode, auth: auth, psk: "matrix secret", ciphers: cipher, hashes: hash,
								groups: group, self: "a", localID: idOf(idk, "a"), remoteID: idOf(idk, "b")}
							b := a
							b.self, b.localID, b.remoteID = "b", idOf(idk, "b"), idOf(idk, "a")
							o := negotiateSides(t, a, b)
							if !o.iEst || !o.rEst {
								t.Fatalf("not established: i=%v r=%v rejects=%v\n%s", o.iEst, o.rEst, o.rejects, o.logText())
							}
							si, sr := o.i.SA, o.r.SA
							for _, pair := range [][2][]byte{{si.SKEYIDd(), sr.SKEYIDd()}, {si.SKEYIDa(), sr.SKEYIDa()},
								{si.ka, sr.ka}, {si.LastBlock(), sr.LastBlock()}} {
								if !bytes.Equal(pair[0], pair[1]) || len(pair[0]) == 0 {
									t.Fatal("the two sides derived different keys or IVs")
								}
							}
							if si.Transform != sr.Transform {
								t.Fatalf("transforms differ: %v / %v", si.Transform, sr.Transform)
							}
							if si.RemoteIDText != sr.LocalIDText || sr.RemoteIDText != si.LocalIDText {
								t.Fatalf("identities: %s/%s %s/%s", si.LocalIDText, si.RemoteIDText, sr.LocalIDText, sr.RemoteIDText)
							}
							if auth != "psk" && (si.PeerCert == nil || sr.PeerCert == nil) {
								t.Fatal("peer certificate not verified")
							}
							wantAuth := map[string]isakmp.AuthMethod{"psk": isakmp.AuthPSK, "rsa": isakmp.AuthRSASig,
								"p256": isakmp.AuthECDSA256, "p384": isakmp.AuthECDSA384}[auth]
							if si.Transform.Auth != wantAuth {
								t.Fatalf("auth method %s, want %s", si.Transform.Auth, wantAuth)
							}
							all = append(all, o.wires...)
						})
					}
				}
			}
		}
	}
	checkTshark(t, &outcome{wires: all})
}
