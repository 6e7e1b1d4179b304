package isakmp

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// TestPayloadEncodings pins the body of every payload kind to bytes written
// by hand from the RFC diagrams, and decodes them back.
func TestPayloadEncodings(t *testing.T) {
	tests := []struct {
		p    Payload
		body string
	}{
		{&KE{Data: []byte{1, 2, 3}}, "010203"},
		{&Hash{Data: []byte{0xaa}}, "aa"},
		{&Signature{Data: []byte{0xbb, 0xcc}}, "bbcc"},
		{&Nonce{Data: []byte("abcdefgh")}, "6162636465666768"},
		{&VendorID{Data: unhex("afcad71368a1f1c96b8696fc77570100")}, "afcad71368a1f1c96b8696fc77570100"},
		{&NATD{Hash: []byte{9, 9}}, "0909"},
		{&NATD{Draft: true, Hash: []byte{9}}, "09"},
		// RFC 2407, 4.6.2: type, protocol, port, data.
		{IDFromAddr(netip.MustParseAddr("192.0.2.1")), "01000000c0000201"},
		{&ID{IDType: IDIPv4Addr, Protocol: 17, Port: 500, Data: []byte{192, 0, 2, 1}}, "011101f4c0000201"},
		{IDFromPrefix(netip.MustParsePrefix("198.51.100.0/24")), "04000000c6336400ffffff00"},
		{IDFromFQDN("a.example"), "02000000" + hex.EncodeToString([]byte("a.example"))},
		{&Cert{Encoding: CertX509Signature, Data: []byte{0x30}}, "0430"},
		{&CertRequest{CertType: CertX509Signature}, "04"},
		// RFC 2408, 3.14: DOI, protocol, SPI size, type, SPI, data.
		{&Notification{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPI: bytes.Repeat([]byte{1}, 16), NotifyType: DPDRUThere, Data: []byte{0, 0, 0, 5}},
			"00000001" + "01" + "10" + "8d28" + strings.Repeat("01", 16) + "00000005"},
		// RFC 2408, 3.15: DOI, protocol, SPI size, #SPIs, SPIs.
		{&Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}}, "00000001" + "03" + "04" + "0002" + "0102030405060708"},
		// RFC 3947, 5.2: ID type, 3 reserved bytes, address.
		{&NATOA{Addr: netip.MustParseAddr("203.0.113.9")}, "01000000cb007109"},
		{&NATOA{Draft: true, Addr: netip.MustParseAddr("2001:db8::1")}, "05000000" + "20010db8000000000000000000000001"},
		{&Fragment{ID: 1, Number: 2, Flags: FragmentLast, Data: []byte{0xee}}, "00010201ee"},
		{&Unknown{Kind: 77, Data: []byte{1}}, "01"},
		// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2: type, reserved,
		// identifier, attributes (an empty TLV asks for one).
		{&Attr{CfgType: CfgRequest, Identifier: 0x1234, Attributes: Attributes{BasicAttr(XAuthType, XAuthTypeGeneric),
			VarAttr(XAuthUserName, nil), VarAttr(XAuthUserPassword, nil)}}, "01001234" + "c0880000" + "40890000" + "408a0000"},
		{&Attr{CfgType: CfgSet, Identifier: 7, Attributes: Attributes{BasicAttr(XAuthStatus, XAuthStatusOK)}}, "03000007" + "c08f0001"},
		// RFC 2408, 3.4-3.6 and 3.3: SA(DOI, situation) > P(#, proto, SPI size,
		// #T) > T(#, ID, reserved, attributes: TV encryption 7, TV key length
		// 128, TLV life duration 4 bytes).
		{&SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []*Proposal{{Number: 1, Protocol: ProtoISAKMP, Transforms: []*Transform{{
			Number: 1, ID: uint8(KeyIKE), Attributes: Attributes{
				BasicAttr(AttrEncryptionAlgorithm, EncAESCBC), BasicAttr(AttrKeyLength, uint16(128)), UintAttr(AttrLifeDuration, 86400)}}}}}},
			"00000001" + "00000001" + "0000" + "0020" + "01010001" + "0000" + "0018" + "0101" + "0000" + "80010007" + "800e0080" + "000c0004" + "00015180"},
	}
	for _, tc := range tests {
		name := tc.p.Type().String()
		got, err := MarshalBody(tc.p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if hex.EncodeToString(got) != tc.body {
			t.Errorf("%s: body %x\n                 want %s", name, got, tc.body)
		}
		chain, err := EncodeChain([]Payload{tc.p})
		if err != nil {
			t.Fatal(err)
		}
		ps, end, err := DecodeChain(tc.p.Type(), chain)
		if err != nil || end != len(chain) || len(ps) != 1 {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		again, _ := MarshalBody(ps[0])
		if !bytes.Equal(again, got) || !bytes.Equal(ps[0].RawBody(), got) {
			t.Errorf("%s: decoded payload re-encodes as %x", name, again)
		}
	}
}

// TestSAStrictness breaks one field of a valid SA body at a time.
func TestSAStrictness(t *testing.T) {
	good := "00000001" + "00000001" + "0000" + "0014" + "01010001" + "0000" + "000c" + "0101" + "0000" + "80010007"
	if _, _, err := DecodeChain(PayloadSA, unhex("0000"+"0020"+good)); err != nil {
		t.Fatalf("good SA: %v", err)
	}
	tests := []struct {
		name string
		body string
		want error
	}{
		{"no proposal", "00000001" + "00000001", ErrNoProposal},
		{"short", "000000010000", ErrShortPayload},
		{"proposal next T", "00000001" + "00000001" + "0300" + "0014" + "01010001" + "0000000c01010000" + "80010007", ErrNextPayload},
		{"proposal next P but last", "00000001" + "00000001" + "0200" + "0014" + "01010001" + "0000000c01010000" + "80010007", ErrTruncatedChain},
		{"two transforms announced", "00000001" + "00000001" + "0000" + "0014" + "01010002" + "0000000c01010000" + "80010007", ErrTransformCount},
		{"zero transforms", "00000001" + "00000001" + "0000" + "0008" + "01010000", ErrNoProposal},
		{"transform reserved", "00000001" + "00000001" + "0000" + "0014" + "01010001" + "0000000c01010001" + "80010007", ErrReservedNotZero},
		{"transform next P", "00000001" + "00000001" + "0000" + "0014" + "01010001" + "0200000c01010000" + "80010007", ErrNextPayload},
		{"attribute cut", "00000001" + "00000001" + "0000" + "0014" + "01010001" + "0000000c01010000" + "00010007", ErrAttributeLength},
		{"SPI size 17", "00000001" + "00000001" + "0000" + "0019" + "01011101" + strings.Repeat("00", 17), ErrSPISize},
		{"proposal length past SA", "00000001" + "00000001" + "0000" + "0015" + "01010001" + "0000000c01010000" + "80010007", ErrPayloadLength},
		{"trailing after last proposal", "00000001" + "00000001" + "0000" + "0014" + "01010001" + "0000000c01010000" + "80010007" + "00", ErrTrailingData},
	}
	for _, tc := range tests {
		var sa SA
		err := sa.unmarshalBody(unhex(tc.body))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestOtherStrictness(t *testing.T) {
	tests := []struct {
		name string
		p    Payload
		body string
		want error
	}{
		{"N short", new(Notification), "0000000101", ErrShortPayload},
		{"N SPI past end", new(Notification), "00000001" + "0104" + "0001" + "0102", ErrShortPayload},
		{"D count mismatch", new(Delete), "00000001" + "0304" + "0002" + "01020304", ErrSPISize},
		{"D too many", new(Delete), "00000001" + "0300" + "ffff", ErrTooManySPIs},
		{"NAT-OA reserved", new(NATOA), "01000100c0000201", ErrReservedNotZero},
		{"NAT-OA v4 length", new(NATOA), "01000000c00002", ErrAddressLength},
		{"NAT-OA FQDN", new(NATOA), "02000000c0000201", ErrIDType},
		{"FRAG flags", new(Fragment), "00010102", ErrReservedNotZero},
		{"ID short", new(ID), "010000", ErrShortPayload},
		{"CERT empty", new(Cert), "", ErrShortPayload},
	}
	for _, tc := range tests {
		if err := tc.p.unmarshalBody(unhex(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestIDHelpers(t *testing.T) {
	id := IDFromPrefix(netip.MustParsePrefix("2001:db8:1:2::5/64"))
	p, err := id.Prefix()
	if err != nil || p != netip.MustParsePrefix("2001:db8:1:2::/64") || id.IDType != IDIPv6AddrSubnet {
		t.Fatalf("prefix %v %v %v", p, err, id.IDType)
	}
	r, _ := IDFromRange(netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.20"))
	f, to, err := r.Range()
	if err != nil || f.String() != "192.0.2.10" || to.String() != "192.0.2.20" || r.String() != "192.0.2.10-192.0.2.20" {
		t.Fatalf("range %v %v %v", f, to, err)
	}
	if _, err := IDFromRange(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Fatal("mixed range accepted")
	}
	a, err := IDFromAddr(netip.MustParseAddr("::ffff:192.0.2.7")).Addr()
	if err != nil || a.String() != "192.0.2.7" {
		t.Fatalf("addr %v %v", a, err)
	}
	bad := &ID{IDType: IDIPv4AddrSubnet, Data: unhex("c0000200ff00ff00")}
	if _, err := bad.Prefix(); !errors.Is(err, ErrAddressLength) {
		t.Fatalf("non-contiguous mask: %v", err)
	}
	if _, err := IDFromFQDN("x").Addr(); !errors.Is(err, ErrIDType) {
		t.Fatalf("FQDN as address: %v", err)
	}
	if _, err := (&ID{IDType: IDIPv4Addr, Data: []byte{1}}).Addr(); !errors.Is(err, ErrAddressLength) {
		t.Fatalf("short address: %v", err)
	}
	if s := IDFromUserFQDN("u@example.org").String(); s != `"u@example.org"` {
		t.Fatal(s)
	}
	// A DN from a certificate made by strongSwan's pki.
	der, err := os.ReadFile("testdata/pki-selfsigned-ecdsa.der")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dn := IDFromDN(cert.RawSubject)
	if n, err := dn.DN(); err != nil || n.CommonName != "gw.example.org" || dn.String() != "CN=gw.example.org,O=iked test,C=XX" {
		t.Fatalf("DN %v %v %q", n, err, dn.String())
	}
	if _, err := (&ID{IDType: IDDERASN1DN, Data: append(bytes.Clone(cert.RawSubject), 0)}).DN(); !errors.Is(err, ErrTrailingData) {
		t.Fatalf("DN with trailing byte: %v", err)
	}
}

func TestAttributeHelpers(t *testing.T) {
	as := Attributes{UintAttr(AttrLifeDuration, 28800), UintAttr(AttrLifeDuration, 0x12345678), UintAttr(AttrLifeDuration, 1<<40), VarAttr(AttrGroupPrime, make([]byte, 9))}
	if !as[0].Basic || as[1].Basic || len(as[1].Data) != 4 || len(as[2].Data) != 8 {
		t.Fatalf("UintAttr forms: %v", as)
	}
	for i, want := range []uint64{28800, 0x12345678, 1 << 40} {
		if v, ok := as[i].Uint(); !ok || v != want {
			t.Errorf("%d: %d %v", i, v, ok)
		}
	}
	if _, ok := as[3].Uint(); ok {
		t.Error("9-byte attribute has an integer value")
	}
	if v, ok := as.Phase1(AttrLifeDuration); !ok || v != 28800 {
		t.Error("Phase1 look-up")
	}
	if _, ok := as.IPsec(IPsecAttrEncapsulationMode); ok {
		t.Error("missing attribute found")
	}
	if as.Count(uint16(AttrLifeDuration)) != 3 {
		t.Error("Count")
	}
	if _, err := MarshalBody(&SA{}); !errors.Is(err, ErrNoProposal) {
		t.Error("SA without proposal encoded")
	}
	if _, err := MarshalBody(&Proposal{}); !errors.Is(err, ErrNoProposal) {
		t.Error("proposal without transform encoded")
	}
	tr := &Transform{Attributes: Attributes{{Type: 0x8001, Basic: true}}}
	if _, err := MarshalBody(tr); err == nil {
		t.Error("16-bit attribute type encoded")
	}
}

// TestCaptureContents checks decoded values of real datagrams against what
// the tools were configured to send: ike-scan's default proposal (8
// transforms, Life Duration 28800 as a 4-byte TLV) and strongSwan's
// aes128-sha256-modp2048 proposal with its vendor IDs.
func TestCaptureContents(t *testing.T) {
	read := func(name string) *Message {
		b, err := os.ReadFile("testdata/captures/" + name)
		if err != nil {
			t.Skip(err)
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := read("ike-scan-mm-default-01-i2r.bin")
	sa := m.Find(PayloadSA).(*SA)
	if sa.DOI != DOIIPsec || sa.Situation != SitIdentityOnly || len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 8 {
		t.Fatalf("ike-scan SA: %+v", sa)
	}
	tr := sa.Proposals[0].Transforms[0]
	if enc, _ := tr.Attributes.Phase1(AttrEncryptionAlgorithm); EncryptionAlgorithm(enc) != Enc3DESCBC {
		t.Errorf("ike-scan T1 encryption %v", EncryptionAlgorithm(enc))
	}
	if a, _ := tr.Attributes.Get(uint16(AttrLifeDuration)); a.Basic || len(a.Data) != 4 {
		t.Errorf("ike-scan life duration form %v", a)
	}
	if d, _ := tr.Attributes.Phase1(AttrLifeDuration); d != 28800 {
		t.Errorf("ike-scan life %d", d)
	}

	m = read("strongswan-a-mm-psk-modp2048-01-i2r.bin")
	sa = m.Find(PayloadSA).(*SA)
	as := sa.Proposals[0].Transforms[0].Attributes
	for attr, want := range map[Phase1Attr]uint64{AttrEncryptionAlgorithm: uint64(EncAESCBC), AttrKeyLength: 128,
		AttrHashAlgorithm: uint64(HashSHA2256), AttrGroupDescription: uint64(GroupMODP2048), AttrAuthMethod: uint64(AuthPSK), AttrLifeDuration: 15840} {
		if v, ok := as.Phase1(attr); !ok || v != want {
			t.Errorf("strongSwan %v = %d, want %d", attr, v, want)
		}
	}
	vids := map[string]bool{}
	for _, p := range m.FindAll(PayloadVID) {
		vids[hex.EncodeToString(p.(*VendorID).Data)] = true
	}
	for _, v := range []string{"afcad71368a1f1c96b8696fc77570100", "4a131c81070358455c5728f20e95452f"} {
		if !vids[v] {
			t.Errorf("strongSwan VID %s missing", v)
		}
	}
	if !bytes.Equal(sa.Raw, m.Raw[HeaderLen+GenericHeaderLen:HeaderLen+GenericHeaderLen+len(sa.Raw)]) {
		t.Error("SA Raw is not the received body")
	}
}
