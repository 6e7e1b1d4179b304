package main

import (
	"strings"
	"testing"
)

// An excerpt of vpnc 0.5.3r550 (Debian 12) at --debug 3 as the client of
// interop/docker/rw-vpnc (Aggressive Mode, SHA-1, AES-256, modp2048), the
// Diffie-Hellman secret left out, and iked's key line of the same ISAKMP
// SA.
const vpncExcerpt = `   (not dumping psk hash)
   skeyid:
   4dcce5d8 a9181e7c 2a06e18e c4c3aff3 745a15e7
   expected hash:
   1b56e47b 2cc6e358 c0d64aa7 87304bb8 d3ce7863
   received hash:
   1b56e47b 2cc6e358 c0d64aa7 87304bb8 d3ce7863
   returned_hash:
   fee7d262 a119f4c1 a195c5f6 15d523e6 841c421e
   psk_hash:
   f644d80f 4118f2e3 01c9ed03 ce8a7c66 55856006
   skeyid_d:
   00c00a7c dde384c2 0f4a3bd3 2b56bbc4 a72cc64c
   skeyid_a:
   6ba257a9 e3aeaad1 e15ca6b2 b23dd87a b27a03c9
   skeyid_e:
   c0bf10fb adb2cd68 10bc9be2 9f9d1d8b c15e077c
   enc-key:
   7af3ecc3 fab8ecf7 5b2532f8 cc4d492f a3f21d83 71be7d14 a1553256 85a85fcd
   current_iv: 5c4da378 6a8964eb 6f21b8ce a7c3f410
   NAT status: this end behind NAT? YES -- remote end behind NAT? no
   NAT-T mode: 2
`

const ikedVpncKeys = `{"level":"keys","msg":"ISAKMP SA keys","cookies":"f2ab4f8f69c2fe9819ad7dc67fbec46c","SKEYID":"4dcce5d8a9181e7c2a06e18ec4c3aff3745a15e7","SKEYID_d":"00c00a7cdde384c20f4a3bd32b56bbc4a72cc64c","SKEYID_a":"6ba257a9e3aeaad1e15ca6b2b23dd87ab27a03c9","SKEYID_e":"c0bf10fbadb2cd6810bc9be29f9d1d8bc15e077c","Ka":"7af3ecc3fab8ecf75b2532f8cc4d492fa3f21d8371be7d14a155325685a85fcd","initial IV":"5c4da3786a8964eb6f21b8cea7c3f410"}
{"level":"keys","msg":"IPsec SA keys","cookies":"f2ab4f8f69c2fe9819ad7dc67fbec46c","message-id":"0e4e525d","conn":"peer","protocol":"ESP","direction":"inbound","flow":"initiator","spi":"5f5f5891","encryption key":"596a82e559ea762d5b9e84d938df3bfe2a106c1a4786ed73523b172115149a72","integrity key":"8882a5b4d9ffe02b4970a21de6e114025edd4c20","integrity":"hmac(sha1)/96"}
{"level":"keys","msg":"IPsec SA keys","cookies":"f2ab4f8f69c2fe9819ad7dc67fbec46c","message-id":"0e4e525d","conn":"peer","protocol":"ESP","direction":"outbound","flow":"responder","spi":"e461569c","encryption key":"0f1c8a02f0384179a14d61e7f96b437b5960dd92ad4bf7ba026fb3d414f5e78e","integrity key":"a623d4e3f376d3c682db3c65c21033bfb8c1f5c5","integrity":"hmac(sha1)/96"}
`

func TestVpncKeys(t *testing.T) {
	peer, err := readVpnc(write(t, "vpnc.log", vpncExcerpt))
	if err != nil {
		t.Fatal(err)
	}
	if len(peer.P1) != 1 || len(peer.P1[0].SKEYID) != 20 || len(peer.P1[0].SKEYIDd) != 20 || len(peer.P1[0].Ka) != 32 ||
		len(peer.P1[0].IV) != 16 || peer.noChild == "" {
		t.Fatalf("read %+v", peer)
	}
	ik, err := readIked(write(t, "iked.log", ikedVpncKeys))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := compare(ik, peer, false)
	if err != nil {
		t.Fatalf("same keys: %v", err)
	}
	if !strings.Contains(msg, "(5 values)") || !strings.Contains(msg, "2 IPsec SA key sets not compared") {
		t.Errorf("compare said %q", msg)
	}
	// One bit of SKEYID, Ka or the IV: refused; vpnc's log without
	// SKEYID_d: no ISAKMP SA matches.
	for _, bad := range []func(k *keys){
		func(k *keys) { k.P1[0].SKEYID[3] ^= 1 },
		func(k *keys) { k.P1[0].Ka[31] ^= 1 },
		func(k *keys) { k.P1[0].IV[0] ^= 1 },
		func(k *keys) { k.P1[0].SKEYIDd = nil },
	} {
		p, _ := readVpnc(write(t, "vpnc.log", vpncExcerpt))
		bad(p)
		if _, err := compare(ik, p, false); err == nil {
			t.Errorf("a changed key was accepted")
		}
	}
}
