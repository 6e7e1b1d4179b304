package phase1

import (
	"path/filepath"
	"testing"
)

// TestSendCert: ike.send-cert decides whether our CERT payload goes out
// in Main Mode (MM5, MM6) and Aggressive Mode (AM2, AM3): if-asked (the
// default) only after the peer's certificate request, which iked sends
// when it trusts a CA; always without one; never not even when asked, so
// that a peer without our certificate cannot verify us. What each side
// received is read from its SA.
func TestSendCert(t *testing.T) {
	noCA := func(s side) side { // trusts no CA: sends no certificate request
		s.pkiDir, s.ca, s.cert, s.key = filepath.Join("testdata", "pki"), "-", "rsa-"+s.self+".pem", "rsa-"+s.self+".key"
		return s
	}
	for _, tc := range []struct {
		name               string
		mode               string
		iSend, rSend       string
		iNoCA              bool
		iGotCert, rGotCert bool // the initiator received the responder's CERT, and the other way
		iEst, rEst         bool // each side authenticated the other
	}{
		{name: "default", mode: "main", iGotCert: true, rGotCert: true, iEst: true, rEst: true},
		{name: "if-asked", mode: "main", iSend: "if-asked", rSend: "ifasked", iGotCert: true, rGotCert: true, iEst: true, rEst: true},
		// MM6 without CERT: the initiator cannot verify the responder.
		{name: "responder-never", mode: "main", rSend: "never", rGotCert: true, rEst: true},
		// MM5 without CERT: the responder refuses, MM6 never comes.
		{name: "initiator-never", mode: "main", iSend: "never"},
		// AM2 without CERT: the initiator refuses, AM3 never comes.
		{name: "aggressive-responder-never", mode: "aggressive", rSend: "never"},
		{name: "aggressive-default", mode: "aggressive", iGotCert: true, rGotCert: true, iEst: true, rEst: true},
		// An initiator that trusts no CA sends no certificate request:
		// if-asked sends nothing, always sends (the initiator, trusting
		// no CA, still cannot verify it).
		{name: "not-asked", mode: "main", iNoCA: true, rGotCert: true, rEst: true},
		{name: "not-asked-always", mode: "main", iNoCA: true, rSend: "always", iGotCert: true, rGotCert: true, rEst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := side{mode: tc.mode, auth: "rsa", ciphers: "aes128", hashes: "sha256", groups: "modp2048"}
			si, sr := base, base
			si.self, sr.self = "a", "b"
			si.sendCert, sr.sendCert = tc.iSend, tc.rSend
			if tc.iNoCA {
				si = noCA(si)
			}
			o := negotiate(t, policyFor(t, si), policyFor(t, sr))
			if o.i == nil || o.r == nil {
				t.Fatalf("no exchange on both sides:\n%s", o.logText())
			}
			if got := len(o.i.SA.peerCerts) > 0; got != tc.iGotCert {
				t.Errorf("initiator received a CERT: %v, want %v\n%s", got, tc.iGotCert, o.logText())
			}
			if got := len(o.r.SA.peerCerts) > 0; got != tc.rGotCert {
				t.Errorf("responder received a CERT: %v, want %v\n%s", got, tc.rGotCert, o.logText())
			}
			if o.iEst != tc.iEst || o.rEst != tc.rEst {
				t.Errorf("established: initiator %v, responder %v, want %v, %v\n%s", o.iEst, o.rEst, tc.iEst, tc.rEst, o.logText())
			}
		})
	}
}
