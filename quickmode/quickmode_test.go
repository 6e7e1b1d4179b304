package quickmode

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
)

func TestQuickModeESPTunnel(t *testing.T) {
	s := qmSide{tunnel: true, local: "198.51.100.0/25", remote: "198.51.100.128/25"}
	sb := s
	sb.local, sb.remote = s.remote, s.local
	a, b, p1w := pair(t, s, sb)
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	out := checkTshark(t, a.p1, p1w, r.wires)
	if !strings.Contains(out, "Quick Mode") {
		t.Errorf("tshark did not see Quick Mode:\n%s", out)
	}
	t.Log(out)
}

// natT marks both ISAKMP SAs as phase 1 leaves them when NAT-T (RFC 3947)
// was negotiated and a NAT detected: floated to port 4500.
func natT(a, b *qmPeer) {
	vid := []byte{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}
	for _, p := range []*qmPeer{a, b} {
		p.p1.VendorIDs, p.p1.PeerNATT, p.p1.Floated = [][]byte{vid}, true, true
		p.p1.Local = netip.AddrPortFrom(p.p1.Local.Addr(), 4500)
		p.p1.Remote = netip.AddrPortFrom(p.p1.Remote.Addr(), 4500)
	}
	a.p1.LocalBehindNAT, b.p1.RemoteBehindNAT = true, true
}

// TestNATTransport: transport mode behind a NAT proposes
// UDP-Encapsulated-Transport (RFC 3947, 5.1) and sends NAT-OAi/NAT-OAr
// (5.2); the responder answers with its own; both engines get ESP in UDP
// on port 4500.
func TestNATTransport(t *testing.T) {
	a, b, p1w := pair(t, qmSide{}, qmSide{})
	natT(a, b)
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if e := a.x.Chosen.Protos[0].Attrs.Encap; e != isakmp.EncapUDPTransport {
		t.Errorf("encapsulation %v", e)
	}
	for _, p := range []*qmPeer{a, b} {
		for _, rec := range p.back.SAs() {
			if rec.Encap == nil || rec.Encap.LocalPort != 4500 || rec.Encap.RemotePort != 4500 || rec.Mode != engine.ModeTransport {
				t.Errorf("%s %s: encap %+v mode %v", p.name, rec.Ref, rec.Encap, rec.Mode)
			}
		}
	}
	if len(a.x.natoa) != 2 || len(b.x.natoa) != 2 {
		t.Errorf("NAT-OA: initiator sent %d, responder %d", len(a.x.natoa), len(b.x.natoa))
	}
	out := checkTshark(t, a.p1, p1w, r.wires)
	t.Log(out)
}

// TestNATTunnelDraft: a peer that only knows draft-02 gets the draft
// encapsulation value 61443.
func TestNATTunnelDraft(t *testing.T) {
	a, b, _ := tunnelPair(t, nil)
	natT(a, b)
	draft := []byte{0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48}
	a.p1.VendorIDs, b.p1.VendorIDs = [][]byte{draft}, [][]byte{draft}
	r := runQM(t, a, b, nil)
	checkKeys(t, r)
	if e := b.x.Chosen.Protos[0].Attrs.Encap; e != isakmp.EncapUDPTunnelDraft {
		t.Errorf("encapsulation %v, want the draft's", e)
	}
}

// TestIPv6 runs Quick Mode between IPv6 gateways, tunnel and transport.
func TestIPv6(t *testing.T) {
	for _, tunnel := range []bool{true, false} {
		sa, sb := mirrored(qmSide{v6: true, tunnel: tunnel, pfs: "ecp256"}, "2001:db8:a::/64", "2001:db8:b::/64")
		a, b, _ := pair(t, sa, sb)
		r := runQM(t, a, b, nil)
		checkKeys(t, r)
		if r := b.back.SAs(); len(r) == 0 || !r[0].Ref.Src.Is6() {
			t.Errorf("SAs %+v", r)
		}
	}
}

// TestCheapWork: without PFS a Quick Mode's work is a nonce, which the
// daemon runs on its loop (daemon.Result.Cheap); with PFS it is a
// Diffie-Hellman, for the worker pool.
func TestCheapWork(t *testing.T) {
	for _, tc := range []struct {
		pfs          string
		wantA, wantB []bool
	}{
		{"none", []bool{true}, []bool{true}},
		{"ecp256", []bool{false, false}, []bool{false}},
	} {
		t.Run(tc.pfs, func(t *testing.T) {
			sa, sb := mirrored(qmSide{pfs: tc.pfs}, "192.0.2.0/26", "198.51.100.0/26")
			a, b, _ := pair(t, sa, sb)
			r := runQM(t, a, b, nil)
			checkKeys(t, r)
			if !slices.Equal(a.works, tc.wantA) || !slices.Equal(b.works, tc.wantB) {
				t.Errorf("cheap: initiator %v, responder %v; want %v, %v", a.works, b.works, tc.wantA, tc.wantB)
			}
		})
	}
}
