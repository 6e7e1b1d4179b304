package isakmp

import (
	"errors"
	"fmt"
	"testing"
)

func TestConstantNames(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{ExchangeMain, "Identity Protection"},
		{ExchangeAggressive, "Aggressive"},
		{ExchangeQuickMode, "Quick Mode"},
		{ExchangeNewGroupMode, "New Group Mode"},
		{ExchangeType(99), "ExchangeType(99)"},
		{FlagEncryption | FlagCommit, "E|C"},
		{Flags(0), "0"},
		{Flags(0x11), "E|Flags(16)"},
		{PayloadSA, "SA"},
		{PayloadNATDDraft, "NAT-D (draft)"},
		{PayloadFragment, "FRAG"},
		{PayloadAttr, "ATTR"},
		{PayloadType(15), "PayloadType(15)"},
		{ExchangeTransaction, "Transaction"},
		{CfgAck, "ISAKMP_CFG_ACK"},
		{CfgType(9), "CfgType(9)"},
		{XAuthStatus, "XAUTH-STATUS"},
		{CfgAttr(1), "CfgAttr(1)"},
		{DOIIPsec, "IPSEC"},
		{SitIdentityOnly, "SIT_IDENTITY_ONLY"},
		{ProtoESP, "PROTO_IPSEC_ESP"},
		{ProtoIPCOMP, "PROTO_IPCOMP"},
		{KeyIKE, "KEY_IKE"},
		{ESPAES, "ESP_AES"},
		{ESPAESGCM16, "ESP_AES-GCM_16"},
		{ESPNull, "ESP_NULL"},
		{ESPTransformID(17), "ESPTransformID(17)"},
		{AHSHA2_256, "AH_SHA2-256"},
		{IPCOMPDeflate, "IPCOMP_DEFLATE"},
		{IDIPv4AddrSubnet, "ID_IPV4_ADDR_SUBNET"},
		{IDKeyID, "ID_KEY_ID"},
		{CertX509Signature, "X.509 Certificate - Signature"},
		{InvalidPayloadType, "INVALID-PAYLOAD-TYPE"},
		{NoProposalChosen, "NO-PROPOSAL-CHOSEN"},
		{AuthenticationFailed, "AUTHENTICATION-FAILED"},
		{PayloadMalformed, "PAYLOAD-MALFORMED"},
		{InvalidIDInformation, "INVALID-ID-INFORMATION"},
		{UnequalPayloadLengths, "UNEQUAL-PAYLOAD-LENGTHS"},
		{Connected, "CONNECTED"},
		{ResponderLifetime, "RESPONDER-LIFETIME"},
		{ReplayStatus, "REPLAY-STATUS"},
		{InitialContact, "INITIAL-CONTACT"},
		{DPDRUThere, "R-U-THERE"},
		{DPDRUThereAck, "R-U-THERE-ACK"},
		{NotifyType(12345), "NotifyType(12345)"},
		{AttrAuthMethod, "Authentication Method"},
		{AttrGroupOrder, "Group Order"},
		{AuthRSASig, "RSA signatures"},
		{AuthECDSA384, "ECDSA with SHA-384 on the P-384 curve"},
		{EncAESCBC, "AES-CBC"},
		{HashSHA2512, "SHA2-512"},
		{GroupMODP2048, "2048-bit MODP group"},
		{GroupECP256, "256-bit random ECP group"},
		{GroupTypeECP, "ECP"},
		{LifeKilobytes, "kilobytes"},
		{IPsecAttrCompressPrivateAlg, "Compress Private Algorithm"},
		{EncapUDPTunnel, "UDP-Encapsulated-Tunnel"},
		{EncapUDPTransportDraft, "UDP-Encapsulated-Transport (draft)"},
		{AuthHMACSHA2256, "HMAC-SHA2-256"},
	}
	for _, tc := range tests {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T(%v): got %q, want %q", tc.v, tc.v, got, tc.want)
		}
	}
	if TransformIDString(ProtoAH, 3) != "AH_SHA" || TransformIDString(9, 3) != "TransformID(3)" {
		t.Error("TransformIDString")
	}
	var err error = NoProposalChosen
	var nt NotifyType
	if !errors.As(fmt.Errorf("wrapped: %w", err), &nt) || nt != NoProposalChosen || err.Error() != "isakmp: notify NO-PROPOSAL-CHOSEN" {
		t.Error("NotifyType as error")
	}
	if !PayloadMalformed.IsError() || InitialContact.IsError() {
		t.Error("IsError")
	}
	// The RFC numbers themselves (RFC 2408 3.14.1, RFC 3706, RFC 3947).
	for v, want := range map[uint64]uint64{uint64(UnequalPayloadLengths): 30, uint64(Connected): 16384, uint64(DPDRUThereAck): 36137,
		uint64(PayloadNATOA): 21, uint64(PayloadNATOADraft): 131, uint64(EncapUDPTunnelDraft): 61443, uint64(AuthECDSA521): 11,
		uint64(PayloadAttr): 14, uint64(ExchangeTransaction): 6, uint64(CfgAck): 4, uint64(XAuthType): 16520, uint64(XAuthStatus): 16527, uint64(XAuthAnswer): 16529} {
		if v != want {
			t.Errorf("constant %d, want %d", v, want)
		}
	}
}

func TestSummary(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeInformational, Flags: FlagEncryption, MessageID: 0xabc}, Encrypted: make([]byte, 32)}
	if s := m.Summary(); s != "Informational [encrypted 32 bytes]" {
		t.Error(s)
	}
	m.Payloads = []Payload{&Hash{}, &Notification{NotifyType: DPDRUThere}}
	if s := m.Summary(); s != "Informational [HASH N(R-U-THERE)]" {
		t.Error(s)
	}
	if s := m.Header.String(); s != "0000000000000000/0000000000000000 Informational flags=E mid=00000abc next=NONE len=0" {
		t.Error(s)
	}
}
