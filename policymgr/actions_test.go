package policymgr

import (
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/notify"
)

// TestConnectionBehaviourKeys: a connection's dpd mapping (delay,
// timeout, action), close-action and ike.send-cert, their defaults (the
// daemon's DPD, clear, none, if-asked) and strongSwan's spellings, and the
// findings of wrong values with their lines.
func TestConnectionBehaviourKeys(t *testing.T) {
	p, fs, err := LoadFindings(writePolicy(t, opsPolicy("\t  dpd: {delay: 20s, timeout: 60s}", "")), LoadOptions{})
	if err != nil || p == nil || len(fs) != 0 {
		t.Fatalf("%v %v", err, fs)
	}
	c, _ := p.Connection("branch")
	if c.DPD != (ConnDPD{Delay: 20 * time.Second, Timeout: 60 * time.Second, Action: ActionClear}) || c.CloseAction != ActionNone ||
		c.IKE.SendCert != SendCertIfAsked {
		t.Errorf("defaults: dpd %+v, close-action %v, send-cert %v", c.DPD, c.CloseAction, c.IKE.SendCert)
	}

	for _, tc := range []struct {
		conn  string
		dpd   ConnDPD
		close Action
	}{
		{"\t    dpd: {action: restart}\n\t    close-action: hold", ConnDPD{30 * time.Second, 150 * time.Second, ActionRestart}, ActionHold},
		{"\t    dpd: {delay: 5s, timeout: 15s, action: hold}\n\t    close-action: restart", ConnDPD{5 * time.Second, 15 * time.Second, ActionHold}, ActionRestart},
		// swanctl's words: trap for hold, start for restart.
		{"\t    dpd: {action: trap}\n\t    close-action: start", ConnDPD{30 * time.Second, 150 * time.Second, ActionHold}, ActionRestart},
		{"\t    dpd: {delay: 0s}\n\t    close-action: clear", ConnDPD{0, 150 * time.Second, ActionClear}, ActionClear},
	} {
		p, fs, err := LoadFindings(writePolicy(t, opsPolicy("", tc.conn)), LoadOptions{})
		if err != nil || p == nil || len(fs) != 0 {
			t.Fatalf("%q: %v %v", tc.conn, err, fs)
		}
		c, _ := p.Connection("branch")
		if c.DPD != tc.dpd || c.CloseAction != tc.close {
			t.Errorf("%q: dpd %+v, close-action %v", tc.conn, c.DPD, c.CloseAction)
		}
	}

	_, fs, _ = LoadFindings(writePolicy(t, opsPolicy("",
		"\t    dpd: {delay: 10s, action: reboot, interval: 3s}\n\t    close-action: restart-now\n\t    keying-tries: 2")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" dpd action "reboot": it must be clear, hold or restart`,
		`0|line 36: unknown key "interval" in connection "branch" dpd`,
		`0|line 37: connection "branch" close-action "restart-now": it must be none, clear, hold or restart`,
		"21|" + txt21,
	})

	// DPD needs the daemon's DPD Vendor ID; an action never runs without
	// DPD; send-cert needs a certificate.
	_, fs, _ = LoadFindings(writePolicy(t, strings.Replace(opsPolicy("\t  dpd: {delay: 0s, timeout: 0s}",
		"\t    dpd: {delay: 10s, timeout: 30s}"), "psk: x}", "psk: x, send-cert: always}", 1)), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 34: connection "branch" ike send-cert: there is no certificate to send with auth psk`,
		`0|line 36: connection "branch" dpd delay 10s: daemon dpd.delay is 0, which turns DPD off for every connection (no DPD Vendor ID is sent); set it there`,
		"21|" + txt21,
	})
	_, fs, _ = LoadFindings(writePolicy(t, opsPolicy("", "\t    dpd: {delay: 0s, action: restart}")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" dpd action restart: DPD is off for this connection (delay 0), so the action never runs`,
	})
	_, fs, _ = LoadFindings(writePolicy(t, opsPolicy("", "\t    dpd: {delay: 10s, timeout: 0s}")), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" dpd: a delay of 10s with a timeout of 0: the peer would be declared dead at its first probe`,
		"21|" + txt21,
	})

	// hold and restart negotiate again: they need a peer to negotiate
	// with (a road warrior connection has none).
	rw := strings.Replace(opsPolicy("", "\t    dpd: {action: hold}\n\t    close-action: restart"), "remote-gw: 192.0.2.2", "local-gw: 192.0.2.1", 1)
	_, fs, _ = LoadFindings(writePolicy(t, rw), LoadOptions{})
	checkFindings(t, fs, []string{
		`0|line 36: connection "branch" dpd action hold: the connection has no peer address to negotiate with again (give remote-gw, or a single remote-address in transport mode)`,
		`0|line 37: connection "branch" close-action restart: the connection has no peer address to negotiate with again (give remote-gw, or a single remote-address in transport mode)`,
		"21|" + txt21,
	})
}

// TestSendCertKey: ike.send-cert with certificate authentication, in the
// issue's spelling and strongSwan's.
func TestSendCertKey(t *testing.T) {
	for word, want := range map[string]SendCert{"always": SendCertAlways, "never": SendCertNever, "if-asked": SendCertIfAsked,
		"ifasked": SendCertIfAsked} {
		text := dedent(`
		certificates:
		  ca: {file: ca-rsa.pem, trusted: true}
		  gw: {file: gw-rsa.pem, private-key: gw-rsa.pkcs8.pem}
		transforms:
		  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
		  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
		proposals:
		  p: [esp]
		proposal-lists:
		  l: [p]
		connections:
		  branch:
		    remote-gw: 192.0.2.2
		    ike: {transforms: [ike], certificate: gw, send-cert: ` + word + `}
		    proposal-list: l
		`)
		p, fs, err := LoadFindings(writePolicy(t, text, "ca-rsa.pem", "gw-rsa.pem", "gw-rsa.pkcs8.pem"), LoadOptions{})
		if err != nil || p == nil {
			t.Fatalf("%s: %v %v", word, err, fs)
		}
		c, _ := p.Connection("branch")
		if c.IKE.SendCert != want {
			t.Errorf("send-cert: %s: %v", word, c.IKE.SendCert)
		}
	}
}

// TestCheckBehaviours: `iked -check` says at the connection's line what
// happens when its peer is dead or closes it, when not the default; a
// connection with the defaults gets no line.
func TestCheckBehaviours(t *testing.T) {
	fs, ok := Check(writePolicy(t, opsPolicy("", "\t    dpd: {delay: 10s, action: restart}\n\t    close-action: hold")), LoadOptions{})
	if !ok || len(fs) != 1 || fs[0].Level != notify.LevelInfo || fs[0].Line != 30 ||
		fs[0].Text != `line 30: connection "branch": when DPD (probing after 10s of silence) finds the peer dead after 2m30s: restart (negotiate again at once); when the peer closes it: hold (its kernel policies stay; traffic negotiates again)` {
		logFindings(t, fs)
		t.Fatal("want one info finding at line 30")
	}
	if fs, ok := Check(writePolicy(t, opsPolicy("", "\t    close-action: clear")), LoadOptions{}); !ok || len(fs) != 0 {
		logFindings(t, fs)
		t.Fatal("defaults: want no finding")
	}
}
