package policymgr

import (
	"fmt"
	"strings"
	"testing"
)

// TestDaemonInitiateLimits: daemon.initiate-max and initiate-per-peer
// (daemon/initiating.go) decode, default to 256 and 5, and a mistake
// names its line.
func TestDaemonInitiateLimits(t *testing.T) {
	p, fs, err := LoadFindings(writePolicy(t, "# defaults\n"), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal(err)
	}
	if d := p.Daemon; d.InitiateMax != 256 || d.InitiatePerPeer != 5 {
		t.Errorf("defaults: initiate-max %d, initiate-per-peer %d", d.InitiateMax, d.InitiatePerPeer)
	}
	p, fs, err = LoadFindings(writePolicy(t, "daemon:\n  initiate-max: 4000\n  initiate-per-peer: 1000\n"), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs)
		t.Fatal(err)
	}
	if d := p.Daemon; d.InitiateMax != 4000 || d.InitiatePerPeer != 1000 {
		t.Errorf("values: initiate-max %d, initiate-per-peer %d", d.InitiateMax, d.InitiatePerPeer)
	}
	for _, c := range []struct {
		text string
		line int
		want string
	}{
		{"daemon:\n  initiate-max: 0\n", 2, "daemon initiate-max"},
		{"daemon:\n\n  initiate-per-peer: many\n", 3, "daemon initiate-per-peer"},
	} {
		p, fs, _ := LoadFindings(writePolicy(t, c.text), LoadOptions{})
		if p != nil || len(fs) == 0 || fs[0].Line != c.line || !strings.Contains(fs[0].Text, c.want) {
			logFindings(t, fs)
			t.Errorf("%q: want a refusal at line %d naming %q", c.text, c.line, c.want)
		}
	}
}

// TestManyConnections: a policy of 10,000 connections (a hub with a
// tunnel to each of its branches; some 300,000 YAML nodes) loads.
func TestManyConnections(t *testing.T) {
	const n = 10000
	var b strings.Builder
	b.WriteString("transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [ecp256]}\n")
	b.WriteString("  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\nconnections:\n")
	for i := range n {
		fmt.Fprintf(&b, "  c%d:\n    local-address: 10.1.0.0/16\n    remote-address: 10.2.%d.%d/32\n", i, i/256, i%256)
		b.WriteString("    local-gw: 192.0.2.1\n    remote-gw: 192.0.2.2\n    initiate: start\n    proposal-list: qm\n")
		fmt.Fprintf(&b, "    ike: {transforms: [ike], psk: \"not a secret\", local-id: \"fqdn:c%d.example.com\"}\n", i)
	}
	p, fs, err := LoadFindings(writePolicy(t, b.String()), LoadOptions{})
	if err != nil || p == nil {
		logFindings(t, fs[:min(len(fs), 5)])
		t.Fatalf("%d connections: not loaded (%v)", n, err)
	}
	if len(p.Connections) != n {
		t.Errorf("%d connections loaded, want %d", len(p.Connections), n)
	}
}
