package isakmp

import (
	"crypto/aes"
	"net/netip"
	"testing"

	"github.com/iked/iked/isakmp/pcapgolden"
)

// goldenExchange is a Main Mode, Aggressive Mode, Quick Mode and
// informational set of messages built with this package's encoder, with
// fixed cookies, nonces and keys so that the bytes are reproducible.
func goldenExchange(t *testing.T) []pcapgolden.Datagram {
	ic := [8]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	rc := [8]byte{0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01}
	fill := func(n int, c byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = c + byte(i)
		}
		return b
	}
	ike := func(n uint8, enc EncryptionAlgorithm, hash HashAlgorithm, group GroupDescription, auth AuthMethod) *Transform {
		return &Transform{Number: n, ID: uint8(KeyIKE), Attributes: Attributes{
			BasicAttr(AttrEncryptionAlgorithm, enc), BasicAttr(AttrKeyLength, uint16(128)), BasicAttr(AttrHashAlgorithm, hash),
			BasicAttr(AttrGroupDescription, group), BasicAttr(AttrAuthMethod, auth),
			BasicAttr(AttrLifeType, LifeSeconds), UintAttr(AttrLifeDuration, 86400)}}
	}
	sa1 := &SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []*Proposal{{Number: 1, Protocol: ProtoISAKMP, Transforms: []*Transform{
		ike(1, EncAESCBC, HashSHA2256, GroupMODP2048, AuthPSK), ike(2, EncAESCBC, HashSHA, GroupECP256, AuthRSASig)}}}}
	sa2 := &SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []*Proposal{{Number: 1, Protocol: ProtoISAKMP, Transforms: []*Transform{
		ike(1, EncAESCBC, HashSHA2256, GroupMODP2048, AuthPSK)}}}}
	vids := []Payload{&VendorID{Data: unhex("afcad71368a1f1c96b8696fc77570100")}, &VendorID{Data: unhex("4a131c81070358455c5728f20e95452f")}}
	mm := Header{InitiatorCookie: ic, Exchange: ExchangeMain}
	mmR := mm
	mmR.ResponderCookie = rc
	esp := &Transform{Number: 1, ID: uint8(ESPAES), Attributes: Attributes{
		BasicAttr(IPsecAttrSALifeType, LifeSeconds), UintAttr(IPsecAttrSALifeDuration, 3600),
		BasicAttr(IPsecAttrEncapsulationMode, EncapUDPTunnel), BasicAttr(IPsecAttrAuthAlgorithm, AuthHMACSHA2256),
		BasicAttr(IPsecAttrKeyLength, uint16(256)), BasicAttr(IPsecAttrGroupDescription, GroupMODP2048)}}
	qmSA := &SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []*Proposal{
		{Number: 1, Protocol: ProtoESP, SPI: []byte{0xc1, 0x00, 0x00, 0x01}, Transforms: []*Transform{esp}},
		{Number: 1, Protocol: ProtoIPCOMP, SPI: []byte{0x12, 0x34}, Transforms: []*Transform{{Number: 1, ID: uint8(IPCOMPDeflate),
			Attributes: Attributes{BasicAttr(IPsecAttrEncapsulationMode, EncapTunnel)}}}}}}
	agID, _ := IDFromRange(netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.20"))
	msgs := []struct {
		from bool // true: initiator to responder
		m    *Message
	}{
		{true, &Message{Header: mm, Payloads: append([]Payload{sa1}, vids...)}},
		{false, &Message{Header: mmR, Payloads: append([]Payload{sa2}, vids...)}},
		{true, &Message{Header: mmR, Payloads: []Payload{&KE{Data: fill(256, 1)}, &Nonce{Data: fill(32, 2)},
			&NATD{Hash: fill(32, 3)}, &NATD{Hash: fill(32, 4)}}}},
		{false, &Message{Header: mmR, Payloads: []Payload{&KE{Data: fill(256, 5)}, &Nonce{Data: fill(32, 6)},
			&CertRequest{CertType: CertX509Signature}, &NATD{Hash: fill(32, 7)}, &NATD{Hash: fill(32, 8)}}}},
		{true, &Message{Header: Header{InitiatorCookie: ic, Exchange: ExchangeAggressive}, Payloads: []Payload{sa2,
			&KE{Data: fill(256, 9)}, &Nonce{Data: fill(16, 10)}, IDFromUserFQDN("alice@example.org")}}},
		{false, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeAggressive}, Payloads: []Payload{sa2,
			&KE{Data: fill(256, 11)}, &Nonce{Data: fill(16, 12)}, IDFromFQDN("gw.example.org"), &NATD{Draft: true, Hash: fill(20, 13)},
			&Hash{Data: fill(32, 14)}}}},
		// Unprotected informational exchanges (before the ISAKMP SA exists).
		{false, &Message{Header: Header{InitiatorCookie: ic, Exchange: ExchangeInformational}, Payloads: []Payload{
			&Notification{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NoProposalChosen}}}},
		{true, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeInformational, MessageID: 0x01020304}, Payloads: []Payload{
			&Hash{Data: fill(32, 15)}, &Notification{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPI: append(ic[:], rc[:]...), NotifyType: DPDRUThere, Data: []byte{0, 0, 0, 9}},
			&Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPISize: 4, SPIs: [][]byte{{0xc1, 0, 0, 1}, {0xc1, 0, 0, 2}}}}}},
		// Quick Mode in the clear as tshark sees its structure, with ID
		// subnets, NAT-OA and responder lifetime.
		{true, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeQuickMode, MessageID: 0xa0b0c0d0}, Payloads: []Payload{
			&Hash{Data: fill(32, 16)}, qmSA, &Nonce{Data: fill(32, 17)}, &KE{Data: fill(256, 18)},
			IDFromPrefix(netip.MustParsePrefix("192.0.2.0/24")), agID,
			&NATOA{Addr: netip.MustParseAddr("203.0.113.5")}, &NATOA{Addr: netip.MustParseAddr("198.51.100.1")},
			&Notification{DOI: DOIIPsec, Protocol: ProtoESP, SPI: []byte{0xc1, 0, 0, 1}, NotifyType: ResponderLifetime,
				Data: []byte{0x80, 0x01, 0x00, 0x01, 0x80, 0x02, 0x0e, 0x10}}}}},
		// Transaction exchanges in the clear as tshark sees their
		// structure: an XAUTH request, its reply, the status and its
		// acknowledgement (draft-beaulieu-ike-xauth-02, 4.1).
		{false, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeTransaction, MessageID: 0x11223344}, Payloads: []Payload{
			&Hash{Data: fill(32, 23)}, &Attr{CfgType: CfgRequest, Identifier: 1, Attributes: Attributes{BasicAttr(XAuthType, XAuthTypeGeneric),
				VarAttr(XAuthUserName, nil), VarAttr(XAuthUserPassword, nil)}}}}},
		{true, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeTransaction, MessageID: 0x11223344}, Payloads: []Payload{
			&Hash{Data: fill(32, 24)}, &Attr{CfgType: CfgReply, Identifier: 1, Attributes: Attributes{BasicAttr(XAuthType, XAuthTypeGeneric),
				VarAttr(XAuthUserName, []byte("alice")), VarAttr(XAuthUserPassword, []byte("secret"))}}}}},
		{false, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeTransaction, MessageID: 0x55667788}, Payloads: []Payload{
			&Hash{Data: fill(32, 25)}, &Attr{CfgType: CfgSet, Identifier: 2, Attributes: Attributes{BasicAttr(XAuthStatus, XAuthStatusOK)}}}}},
		{true, &Message{Header: Header{InitiatorCookie: ic, ResponderCookie: rc, Exchange: ExchangeTransaction, MessageID: 0x55667788}, Payloads: []Payload{
			&Hash{Data: fill(32, 26)}, &Attr{CfgType: CfgAck, Identifier: 2, Attributes: Attributes{VarAttr(XAuthStatus, nil)}}}}},
	}
	var ds []pcapgolden.Datagram
	for i, x := range msgs {
		b, err := x.m.Encode()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("message %d does not decode: %v", i, err)
		}
		d := pcapgolden.Datagram{Src: pcapgolden.Initiator, Dst: pcapgolden.Responder, Payload: b}
		if !x.from {
			d.Src, d.Dst = d.Dst, d.Src
		}
		ds = append(ds, d)
	}
	// MM5 sealed, over port 4500 with the non-ESP marker.
	block, _ := aes.NewCipher(fill(16, 20))
	mm5, _, err := Seal(mmR, []Payload{IDFromAddr(pcapgolden.Initiator), &Hash{Data: fill(32, 21)}, &Notification{DOI: DOIIPsec,
		Protocol: ProtoISAKMP, SPI: append(ic[:], rc[:]...), NotifyType: InitialContact}}, block, fill(16, 22))
	if err != nil {
		t.Fatal(err)
	}
	ds = append(ds, pcapgolden.Datagram{Src: pcapgolden.Initiator, Dst: pcapgolden.Responder, SrcPort: 4500, DstPort: 4500, NonESPMarker: true, Payload: mm5})
	return ds
}

// TestGoldenTshark: every message the encoder produces dissects in tshark
// with no malformed packet and no expert warning; pcap and tshark summary
// are golden files in testdata/golden (go test ./isakmp -update).
func TestGoldenTshark(t *testing.T) {
	pcapgolden.Golden(t, "testdata/golden", "exchange", goldenExchange(t), *update)
}
