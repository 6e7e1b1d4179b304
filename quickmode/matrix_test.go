package quickmode

import (
	"fmt"
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

// TestMatrix negotiates Quick Mode in process over every combination the
// brief names: PFS none and groups 2, 14, 19; ESP aes128/aes256/3des with
// sha1/sha256, aes128gcm16; AH; AH+ESP; transport and tunnel. Each run: both
// sides install, each side's outbound keys are the other's inbound keys,
// the negotiated algorithms are the expected ones, and every datagram
// dissects cleanly in tshark with the Quick Mode payloads decrypted.
func TestMatrix(t *testing.T) {
	type alg struct {
		name, ipsec, proposals string
		protos                 []engine.Protocol
		cipher, integ          string
	}
	algs := []alg{
		{"aes128-sha1", "esp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}", "p: [esp]", []engine.Protocol{engine.ProtoESP}, "cbc(aes)", "hmac(sha1)"},
		{"aes256-sha256", "esp: {protocol: esp, ciphers: [aes256], hmacs: [sha256]}", "p: [esp]", []engine.Protocol{engine.ProtoESP}, "cbc(aes)", "hmac(sha256)"},
		{"3des-sha1", "esp: {protocol: esp, ciphers: [3des], hmacs: [sha1]}", "p: [esp]", []engine.Protocol{engine.ProtoESP}, "cbc(des3_ede)", "hmac(sha1)"},
		{"3des-sha256", "esp: {protocol: esp, ciphers: [3des], hmacs: [sha256]}", "p: [esp]", []engine.Protocol{engine.ProtoESP}, "cbc(des3_ede)", "hmac(sha256)"},
		{"aes128gcm16", "esp: {protocol: esp, ciphers: [aes128gcm16], hmacs: [none]}", "p: [esp]", []engine.Protocol{engine.ProtoESP}, "rfc4106(gcm(aes))", ""},
		{"ah-sha1", "ah: {protocol: ah, hmacs: [sha1]}", "p: [ah]", []engine.Protocol{engine.ProtoAH}, "", ""},
		{"ah+esp", "ah: {protocol: ah, hmacs: [sha256]}\nesp: {protocol: esp, ciphers: [aes128], hmacs: [sha1]}", "p: [ah, esp]",
			[]engine.Protocol{engine.ProtoAH, engine.ProtoESP}, "cbc(aes)", "hmac(sha1)"},
	}
	groups := []string{"none", "modp1024", "modp2048", "ecp256"}
	var batch tsharkBatch
	t.Cleanup(func() { batch.check(t) })
	for _, tunnel := range []bool{true, false} {
		for _, g := range groups {
			for _, a := range algs {
				mode := "transport"
				if tunnel {
					mode = "tunnel"
				}
				t.Run(fmt.Sprintf("%s/%s/%s", mode, g, a.name), func(t *testing.T) {
					s, sb := mirrored(qmSide{ipsec: a.ipsec, proposals: a.proposals, pfs: g, tunnel: tunnel},
						"198.51.100.0/25", "198.51.100.128/25")
					pa, pb, p1w := pair(t, s, sb)
					r := runQM(t, pa, pb, nil)
					checkKeys(t, r)
					if t.Failed() {
						return
					}
					recs := pa.back.SAs()
					if len(recs) != 2*len(a.protos) {
						t.Fatalf("%d SAs installed, want %d", len(recs), 2*len(a.protos))
					}
					for _, rec := range recs {
						want := engine.ModeTransport
						if tunnel && (rec.SA.Protocol == engine.ProtoESP || len(a.protos) == 1) {
							want = engine.ModeTunnel
						}
						if rec.Mode != want {
							t.Errorf("%s mode %v, want %v", rec.Ref, rec.Mode, want)
						}
						if rec.SA.Protocol != engine.ProtoESP {
							continue
						}
						if rec.SA.Encryption.Name != a.cipher {
							t.Errorf("cipher %s, want %s", rec.SA.Encryption.Name, a.cipher)
						}
						got := ""
						if rec.SA.Integrity != nil {
							got = rec.SA.Integrity.Name
						}
						if got != a.integ {
							t.Errorf("integrity %q, want %q", got, a.integ)
						}
					}
					wantGroup := isakmp.GroupDescription(0)
					switch g {
					case "modp1024":
						wantGroup = 2
					case "modp2048":
						wantGroup = 14
					case "ecp256":
						wantGroup = 19
					}
					for _, p := range pa.x.Chosen.Protos {
						if p.Protocol != isakmp.ProtoIPCOMP && p.Attrs.Group != wantGroup {
							t.Errorf("%v negotiated group %v, want %v", p.Protocol, p.Attrs.Group, wantGroup)
						}
					}
					if (pa.x.gqmxy == nil) != (pa.x.State == StateEstablished) {
						t.Errorf("the PFS secret was not wiped")
					}
					batch.add(pa.p1, p1w, r.wires)
				})
			}
		}
	}
}
