package phase1

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
)

// Addresses of a NAT scenario (documentation ranges only): a host behind a
// NAT, the NAT's public side, and a gateway.
var (
	natInside  = netip.MustParseAddrPort("192.0.2.10:500")
	natOutside = netip.MustParseAddrPort("203.0.113.5:31000")
	gateway    = netip.MustParseAddrPort("198.51.100.1:500")
)

// natdFrom returns the NAT-D payloads a sender at from, sending to to,
// puts in its message, as decoded by the receiver.
func natdFrom(v NATTVersion, prf ikecrypto.PRF, ci, cr [8]byte, from, to netip.AddrPort, extra ...netip.AddrPort) []*isakmp.NATD {
	var out []*isakmp.NATD
	for _, p := range NATDPayloads(v, prf, ci, cr, from, to) {
		out = append(out, p.(*isakmp.NATD))
	}
	for _, a := range extra {
		out = append(out, &isakmp.NATD{Draft: v.Draft(), Hash: ikecrypto.NATDHash(prf, ci[:], cr[:], a)})
	}
	return out
}

// TestCheckNATD is a table of NAT situations: who sent what, and what the
// receiver concludes (RFC 3947, 3.2).
func TestCheckNATD(t *testing.T) {
	prf, _ := ikecrypto.NewPRF(ikecrypto.HashSHA1)
	ci, cr := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, [8]byte{8, 7, 6, 5, 4, 3, 2, 1}
	v6a := netip.MustParseAddrPort("[2001:db8::1]:500")
	v6b := netip.MustParseAddrPort("[2001:db8::2]:500")
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:192.0.2.10"), 500)
	for _, tc := range []struct {
		name            string
		natd            []*isakmp.NATD
		local, remote   netip.AddrPort
		wantLocal, wRem bool
	}{
		{"no NAT", natdFrom(NATTRFC3947, prf, ci, cr, natInside, gateway), gateway, natInside, false, false},
		// The gateway receives from the NAT's public side what the host
		// inside hashed with its private address.
		{"initiator behind NAT, seen by the gateway", natdFrom(NATTRFC3947, prf, ci, cr, natInside, gateway), gateway, natOutside, false, true},
		// The host inside receives the gateway's hash of the public side.
		{"initiator behind NAT, seen from inside", natdFrom(NATTRFC3947, prf, ci, cr, gateway, natOutside), natInside, gateway, true, false},
		{"both behind NAT", natdFrom(NATTRFC3947, prf, ci, cr, natInside, netip.MustParseAddrPort("198.51.100.9:4500")), netip.MustParseAddrPort("198.51.100.1:500"), natOutside, true, true},
		{"second local address matches", natdFrom(NATTRFC3947, prf, ci, cr, natInside, gateway, natOutside), gateway, natOutside, false, false},
		{"IPv6 no NAT", natdFrom(NATTRFC3947, prf, ci, cr, v6a, v6b), v6b, v6a, false, false},
		{"IPv4-mapped local address hashes as IPv4", natdFrom(NATTRFC3947, prf, ci, cr, gateway, natInside), mapped, gateway, false, false},
		{"draft payloads with a draft peer", natdFrom(NATTDraft02N, prf, ci, cr, natInside, gateway), gateway, natInside, false, false},
		{"port changed only", natdFrom(NATTRFC3947, prf, ci, cr, natInside, gateway), gateway, netip.AddrPortFrom(natInside.Addr(), 4500), false, true},
	} {
		v := NATTRFC3947
		if tc.natd[0].Draft {
			v = NATTDraft02N
		}
		st, err := CheckNATD(v, prf, ci, cr, tc.local, tc.remote, tc.natd)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if st.LocalBehindNAT != tc.wantLocal || st.RemoteBehindNAT != tc.wRem {
			t.Errorf("%s: %v", tc.name, st)
		}
		if st.Any() != (tc.wantLocal || tc.wRem) {
			t.Errorf("%s: Any %v", tc.name, st.Any())
		}
	}
	good := natdFrom(NATTRFC3947, prf, ci, cr, natInside, gateway)
	for _, tc := range []struct {
		name string
		natd []*isakmp.NATD
		v    NATTVersion
		want error
	}{
		{"one payload", good[:1], NATTRFC3947, ErrNATDMissing},
		{"none", nil, NATTRFC3947, ErrNATDMissing},
		{"short hash", []*isakmp.NATD{good[0], {Hash: good[1].Hash[:19]}}, NATTRFC3947, ErrNATDLength},
		{"RFC payloads with a draft peer", good, NATTDraft03, ErrNATDType},
		{"mixed numbers", []*isakmp.NATD{good[0], {Draft: true, Hash: good[1].Hash}}, NATTRFC3947, ErrNATDType},
	} {
		if _, err := CheckNATD(tc.v, prf, ci, cr, gateway, natInside, tc.natd); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestNATTVersionRules: payload numbers and encapsulation modes by version
// (RFC 3947, 3.2, 5.1 and 5.2; draft-ietf-ipsec-nat-t-ike-02).
func TestNATTVersionRules(t *testing.T) {
	for _, tc := range []struct {
		v                  NATTVersion
		natd, natoa        isakmp.PayloadType
		tunnel, transport  isakmp.EncapsulationMode
		plainT, plainTrans isakmp.EncapsulationMode
	}{
		{NATTRFC3947, 20, 21, 3, 4, 1, 2},
		{NATTDraft03, 130, 131, 61443, 61444, 1, 2},
		{NATTDraft02, 130, 131, 61443, 61444, 1, 2},
		{NATTDraft02N, 130, 131, 61443, 61444, 1, 2},
	} {
		if tc.v.NATDType() != tc.natd || tc.v.NATOA(natInside.Addr()).Type() != tc.natoa {
			t.Errorf("%v: NAT-D %v NAT-OA %v", tc.v, tc.v.NATDType(), tc.v.NATOA(natInside.Addr()).Type())
		}
		if tc.v.EncapsulationMode(true, true) != tc.tunnel || tc.v.EncapsulationMode(false, true) != tc.transport ||
			tc.v.EncapsulationMode(true, false) != tc.plainT || tc.v.EncapsulationMode(false, false) != tc.plainTrans {
			t.Errorf("%v: encapsulation modes", tc.v)
		}
	}
	if NATTNone.EncapsulationMode(true, true) != isakmp.EncapTunnel {
		t.Error("no NAT-T: UDP encapsulation proposed")
	}
	if FloatMessage(isakmp.ExchangeMain) != 5 || FloatMessage(isakmp.ExchangeAggressive) != 3 {
		t.Error("FloatMessage")
	}
	oa := NATTRFC3947.NATOA(netip.MustParseAddr("::ffff:192.0.2.10"))
	if b, err := isakmp.EncodeChain([]isakmp.Payload{oa}); err != nil || len(b) != 12 {
		t.Errorf("NAT-OA of a mapped IPv4 address: %x %v", b, err)
	}
}

// TestFloatAndKeepalive: the initiator floats both ports to 4500 when a
// NAT is found; the responder follows the initiator's new address only on
// the NAT-T port; keepalives only from behind the NAT, every 20 s of our
// silence.
func TestFloatAndKeepalive(t *testing.T) {
	i := &SA{Role: daemon.RoleInitiator, Local: natInside, Remote: gateway}
	ApplyNAT(i, NATState{LocalBehindNAT: true}, NATTPort)
	if !i.Floated || i.Local.Port() != 4500 || i.Remote.Port() != 4500 || i.Local.Addr() != natInside.Addr() {
		t.Errorf("initiator after float: %v -> %v floated %v", i.Local, i.Remote, i.Floated)
	}
	r := &SA{Role: daemon.RoleResponder, Local: gateway, Remote: natOutside, PeerNATT: true}
	ApplyNAT(r, NATState{RemoteBehindNAT: true}, NATTPort)
	if r.Floated || r.Remote != natOutside {
		t.Errorf("responder floated on its own: %v", r.Remote)
	}
	moved := netip.MustParseAddrPort("203.0.113.5:31001")
	on4500 := netip.AddrPortFrom(gateway.Addr(), 4500)
	if PeerMoved(r, gateway, moved, NATTPort) {
		t.Error("followed a peer on port 500")
	}
	if !PeerMoved(r, on4500, moved, NATTPort) || r.Remote != natOutside || r.Local != gateway || r.Floated {
		t.Errorf("no move reported, or the SA moved before its message verified: %v %v", r.Local, r.Remote)
	}
	if PeerMoved(&SA{Local: gateway, Remote: natOutside}, on4500, moved, NATTPort) {
		t.Error("followed a peer without NAT-T")
	}
	r.Local, r.Remote = on4500, moved
	if PeerMoved(r, on4500, moved, NATTPort) {
		t.Error("same addresses reported as a move")
	}

	if NewKeepalive(r, DefaultKeepaliveInterval, time.Now()) != nil {
		t.Error("keepalives from the end not behind NAT")
	}
	t0 := time.Unix(1_800_000_000, 0)
	k := NewKeepalive(i, DefaultKeepaliveInterval, t0)
	if k == nil || k.Tick(t0.Add(19*time.Second)) || !k.Tick(t0.Add(20*time.Second)) {
		t.Fatal("keepalive not due after 20 s")
	}
	k.Sent(t0.Add(35 * time.Second))
	if k.Tick(t0.Add(50*time.Second)) || !k.Next().Equal(t0.Add(55*time.Second)) || !k.Tick(t0.Add(55*time.Second)) {
		t.Errorf("traffic did not postpone the keepalive: next %v", k.Next())
	}
	if len(NATKeepalive) != 1 || NATKeepalive[0] != 0xff {
		t.Error("keepalive bytes")
	}
}
