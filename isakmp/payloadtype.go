package isakmp

// PayloadType is the "next payload" value that chains ISAKMP payloads.
//
// RFC 2408, 3.1 (values 0-13); draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2
// (Attribute payload 14); RFC 3947, 3.2 and 5.2 (NAT-D 20, NAT-OA 21);
// draft-ietf-ipsec-nat-t-ike-02 (NAT-D 130, NAT-OA 131); the Cisco/strongSwan
// IKEv1 fragmentation payload (132).
type PayloadType uint8

// Payload types.
const (
	PayloadNone       PayloadType = 0
	PayloadSA         PayloadType = 1
	PayloadProposal   PayloadType = 2
	PayloadTransform  PayloadType = 3
	PayloadKE         PayloadType = 4
	PayloadID         PayloadType = 5
	PayloadCERT       PayloadType = 6
	PayloadCR         PayloadType = 7
	PayloadHASH       PayloadType = 8
	PayloadSIG        PayloadType = 9
	PayloadNONCE      PayloadType = 10
	PayloadN          PayloadType = 11
	PayloadD          PayloadType = 12
	PayloadVID        PayloadType = 13
	PayloadAttr       PayloadType = 14
	PayloadNATD       PayloadType = 20
	PayloadNATOA      PayloadType = 21
	PayloadNATDDraft  PayloadType = 130
	PayloadNATOADraft PayloadType = 131
	PayloadFragment   PayloadType = 132
)

var payloadNames = map[PayloadType]string{
	PayloadNone:       "NONE",
	PayloadSA:         "SA",
	PayloadProposal:   "P",
	PayloadTransform:  "T",
	PayloadKE:         "KE",
	PayloadID:         "ID",
	PayloadCERT:       "CERT",
	PayloadCR:         "CR",
	PayloadHASH:       "HASH",
	PayloadSIG:        "SIG",
	PayloadNONCE:      "NONCE",
	PayloadN:          "N",
	PayloadD:          "D",
	PayloadVID:        "VID",
	PayloadAttr:       "ATTR",
	PayloadNATD:       "NAT-D",
	PayloadNATOA:      "NAT-OA",
	PayloadNATDDraft:  "NAT-D (draft)",
	PayloadNATOADraft: "NAT-OA (draft)",
	PayloadFragment:   "FRAG",
}

// String returns the RFC abbreviation of the payload type, or PayloadType(n).
func (p PayloadType) String() string { return enumName(p, "PayloadType", payloadNames) }
