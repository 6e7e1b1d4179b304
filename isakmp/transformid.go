package isakmp

// A transform's ID means different things per protocol, so each protocol has
// its own typed constant set; TransformIDString picks the right one.

// ISAKMPTransformID is the transform ID of a PROTO_ISAKMP proposal.
//
// RFC 2407, 4.4.2.
type ISAKMPTransformID uint8

// KeyIKE is the only ISAKMP transform ID (RFC 2407, 4.4.2).
const KeyIKE ISAKMPTransformID = 1

var isakmpTransformNames = map[ISAKMPTransformID]string{KeyIKE: "KEY_IKE"}

// String returns the RFC name of the transform ID, or ISAKMPTransformID(n).
func (t ISAKMPTransformID) String() string {
	return enumName(t, "ISAKMPTransformID", isakmpTransformNames)
}

// AHTransformID is the transform ID of a PROTO_IPSEC_AH proposal.
//
// RFC 2407, 4.4.3; RFC 4868 (SHA-2); IANA "IPsec AH Transform Identifiers".
type AHTransformID uint8

// AH transform IDs.
const (
	AHMD5        AHTransformID = 2
	AHSHA        AHTransformID = 3
	AHDES        AHTransformID = 4
	AHSHA2_256   AHTransformID = 5
	AHSHA2_384   AHTransformID = 6
	AHSHA2_512   AHTransformID = 7
	AHRIPEMD     AHTransformID = 8
	AHAESXCBCMAC AHTransformID = 9
	AHRSA        AHTransformID = 10
	AHAES128GMAC AHTransformID = 11
	AHAES192GMAC AHTransformID = 12
	AHAES256GMAC AHTransformID = 13
)

var ahTransformNames = map[AHTransformID]string{
	AHMD5:        "AH_MD5",
	AHSHA:        "AH_SHA",
	AHDES:        "AH_DES",
	AHSHA2_256:   "AH_SHA2-256",
	AHSHA2_384:   "AH_SHA2-384",
	AHSHA2_512:   "AH_SHA2-512",
	AHRIPEMD:     "AH_RIPEMD",
	AHAESXCBCMAC: "AH_AES-XCBC-MAC",
	AHRSA:        "AH_RSA",
	AHAES128GMAC: "AH_AES-128-GMAC",
	AHAES192GMAC: "AH_AES-192-GMAC",
	AHAES256GMAC: "AH_AES-256-GMAC",
}

// String returns the RFC name of the transform ID, or AHTransformID(n).
func (t AHTransformID) String() string { return enumName(t, "AHTransformID", ahTransformNames) }

// ESPTransformID is the transform ID of a PROTO_IPSEC_ESP proposal.
//
// RFC 2407, 4.4.4; RFC 3602 (AES-CBC), RFC 3686 (CTR), RFC 4309 (CCM),
// RFC 4106 (GCM), RFC 4543 (GMAC); IANA "IPsec ESP Transform Identifiers".
type ESPTransformID uint8

// ESP transform IDs.
const (
	ESPDESIV64         ESPTransformID = 1
	ESPDES             ESPTransformID = 2
	ESP3DES            ESPTransformID = 3
	ESPRC5             ESPTransformID = 4
	ESPIDEA            ESPTransformID = 5
	ESPCAST            ESPTransformID = 6
	ESPBlowfish        ESPTransformID = 7
	ESP3IDEA           ESPTransformID = 8
	ESPDESIV32         ESPTransformID = 9
	ESPRC4             ESPTransformID = 10
	ESPNull            ESPTransformID = 11
	ESPAES             ESPTransformID = 12
	ESPAESCTR          ESPTransformID = 13
	ESPAESCCM8         ESPTransformID = 14
	ESPAESCCM12        ESPTransformID = 15
	ESPAESCCM16        ESPTransformID = 16
	ESPAESGCM8         ESPTransformID = 18
	ESPAESGCM12        ESPTransformID = 19
	ESPAESGCM16        ESPTransformID = 20
	ESPSEEDCBC         ESPTransformID = 21
	ESPCamellia        ESPTransformID = 22
	ESPNullAuthAESGMAC ESPTransformID = 23
)

var espTransformNames = map[ESPTransformID]string{
	ESPDESIV64:         "ESP_DES_IV64",
	ESPDES:             "ESP_DES",
	ESP3DES:            "ESP_3DES",
	ESPRC5:             "ESP_RC5",
	ESPIDEA:            "ESP_IDEA",
	ESPCAST:            "ESP_CAST",
	ESPBlowfish:        "ESP_BLOWFISH",
	ESP3IDEA:           "ESP_3IDEA",
	ESPDESIV32:         "ESP_DES_IV32",
	ESPRC4:             "ESP_RC4",
	ESPNull:            "ESP_NULL",
	ESPAES:             "ESP_AES",
	ESPAESCTR:          "ESP_AES-CTR",
	ESPAESCCM8:         "ESP_AES-CCM_8",
	ESPAESCCM12:        "ESP_AES-CCM_12",
	ESPAESCCM16:        "ESP_AES-CCM_16",
	ESPAESGCM8:         "ESP_AES-GCM_8",
	ESPAESGCM12:        "ESP_AES-GCM_12",
	ESPAESGCM16:        "ESP_AES-GCM_16",
	ESPSEEDCBC:         "ESP_SEED_CBC",
	ESPCamellia:        "ESP_CAMELLIA",
	ESPNullAuthAESGMAC: "ESP_NULL_AUTH_AES-GMAC",
}

// String returns the RFC name of the transform ID, or ESPTransformID(n).
func (t ESPTransformID) String() string { return enumName(t, "ESPTransformID", espTransformNames) }

// IPCOMPTransformID is the transform ID of a PROTO_IPCOMP proposal.
//
// RFC 2407, 4.4.5; IANA "IPsec IPCOMP Transform Identifiers".
type IPCOMPTransformID uint8

// IPComp transform IDs.
const (
	IPCOMPOUI     IPCOMPTransformID = 1
	IPCOMPDeflate IPCOMPTransformID = 2
	IPCOMPLZS     IPCOMPTransformID = 3
	IPCOMPLZJH    IPCOMPTransformID = 4
)

var ipcompTransformNames = map[IPCOMPTransformID]string{
	IPCOMPOUI:     "IPCOMP_OUI",
	IPCOMPDeflate: "IPCOMP_DEFLATE",
	IPCOMPLZS:     "IPCOMP_LZS",
	IPCOMPLZJH:    "IPCOMP_LZJH",
}

// String returns the RFC name of the transform ID, or IPCOMPTransformID(n).
func (t IPCOMPTransformID) String() string {
	return enumName(t, "IPCOMPTransformID", ipcompTransformNames)
}

// TransformIDString prints a transform ID by the name it has under proto.
func TransformIDString(proto ProtocolID, id uint8) string {
	switch proto {
	case ProtoISAKMP:
		return ISAKMPTransformID(id).String()
	case ProtoAH:
		return AHTransformID(id).String()
	case ProtoESP:
		return ESPTransformID(id).String()
	case ProtoIPCOMP:
		return IPCOMPTransformID(id).String()
	}
	return "TransformID(" + uitoa(uint64(id)) + ")"
}
