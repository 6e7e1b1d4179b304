package phase1

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Vendor IDs (RFC 2408, 3.16) are opaque bytes, mostly an MD5 of a text,
// that announce an extension. iked recognises the ones the peers it meets
// send, so that the log names the peer's software and extensions instead
// of printing hex, and so that DPD and NAT-T are enabled only when the
// peer announced them.

// VendorKind is what a recognised Vendor ID announces.
type VendorKind uint8

// Vendor ID kinds. The NAT-T ones are ordered by preference, best last,
// so that ChooseNATT can compare them.
const (
	VendorUnknown VendorKind = iota
	VendorStrongSwan
	VendorXAuth
	VendorDPD
	VendorCiscoUnity
	VendorFragmentation
	VendorMSWindows
	VendorNATTOld // a NAT-T draft iked does not speak (00, 04-08, stenberg)
	VendorNATTDraft02N
	VendorNATTDraft02
	VendorNATTDraft03
	VendorNATTRFC3947
	VendorOther // known to strongSwan's table, no extension (Checkpoint, ZyXEL)
)

var vendorKindNames = [...]string{
	VendorUnknown:       "unknown",
	VendorStrongSwan:    "strongSwan",
	VendorXAuth:         "XAuth",
	VendorDPD:           "DPD",
	VendorCiscoUnity:    "Cisco Unity",
	VendorFragmentation: "FRAGMENTATION",
	VendorMSWindows:     "MS NT5 ISAKMPOAKLEY",
	VendorNATTOld:       "NAT-T (unsupported draft)",
	VendorNATTDraft02N:  "NAT-T (draft 02\\n)",
	VendorNATTDraft02:   "NAT-T (draft 02)",
	VendorNATTDraft03:   "NAT-T (draft 03)",
	VendorNATTRFC3947:   "NAT-T (RFC 3947)",
	VendorOther:         "other",
}

// String names the kind for logs.
func (k VendorKind) String() string {
	if int(k) < len(vendorKindNames) {
		return vendorKindNames[k]
	}
	return fmt.Sprintf("VendorKind(%d)", uint8(k))
}

// IsNATT reports whether k announces a NAT-T version iked speaks.
func (k VendorKind) IsNATT() bool { return k >= VendorNATTDraft02N && k <= VendorNATTRFC3947 }

// vendorID is one entry of the table: Name as strongSwan's log prints it
// (isakmp_vendor.c), so that both logs of an interop run read alike.
// Prefix: the ID is a prefix and the rest is a version (Cisco Unity's two
// last bytes, Windows' version number).
type vendorID struct {
	Name   string
	Kind   VendorKind
	Prefix bool
	ID     []byte
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("phase1: bad vendor ID constant " + s) // constants only, never input
	}
	return b
}

// The Vendor IDs iked sends, checked byte for byte against what strongSwan
// 5.9.8 sent in the recorded runs (interop/testdata/strongswan-runs).
var (
	// vidXAuth is MD5("draft-ietf-ipsra-isakmp-xauth-06.txt") cut to 8 bytes.
	vidXAuth = mustHex("09002689dfd6b712")
	// vidDPD is RFC 3706, 2: MD5 prefix afcad71368a1f1c96b8696fc7757 and the
	// major and minor version bytes 01 00.
	vidDPD = mustHex("afcad71368a1f1c96b8696fc77570100")
	// vidRFC3947 is MD5("RFC 3947") (RFC 3947, 3.1).
	vidRFC3947 = mustHex("4a131c81070358455c5728f20e95452f")
	// vidDraft03 is MD5("draft-ietf-ipsec-nat-t-ike-03").
	vidDraft03 = mustHex("7d9419a65310ca6f2c179d9215529d56")
	// vidDraft02 is MD5("draft-ietf-ipsec-nat-t-ike-02").
	vidDraft02 = mustHex("cd60464335df21f87cfdb2fc68b6a448")
	// vidDraft02N is MD5("draft-ietf-ipsec-nat-t-ike-02\n"): the draft's
	// own text had the newline, and racoon and strongSwan send it too.
	vidDraft02N = mustHex("90cb80913ebb696e086381b5ec427b1f")
	// vidFragmentation is Cisco's IKE fragmentation ID with the capability
	// word 0x80000000 (fragmentation of Main and Aggressive Mode).
	vidFragmentation = mustHex("4048b7d56ebce88525e7de7f00d6c2d380000000")
	// vidUnity is Cisco Unity 1.0: MD5("CISCO-UNITY") with its last two
	// bytes replaced by the major and minor version, as Cisco gateways,
	// vpnc and strongSwan's unity plugin send it.
	vidUnity = mustHex("12f5f28c457168a9702d9fe274cc0100")
)

// knownVendorIDs is the table of Vendor IDs iked recognises: strongSwan's
// (isakmp_vendor.c), libreswan's and racoon's NAT-T family, Cisco's and
// Windows'.
var knownVendorIDs = []vendorID{
	{"strongSwan", VendorStrongSwan, false, mustHex("882fe56d6fd20dbc2251613b2ebe5beb")},
	{"XAuth", VendorXAuth, false, vidXAuth},
	{"DPD", VendorDPD, false, vidDPD},
	{"Cisco Unity", VendorCiscoUnity, true, mustHex("12f5f28c457168a9702d9fe274cc")},
	{"FRAGMENTATION", VendorFragmentation, true, vidFragmentation[:16]},
	{"MS NT5 ISAKMPOAKLEY", VendorMSWindows, true, mustHex("1e2b516905991c7d7c96fcbfb587e461")},
	{"Checkpoint Firewall", VendorOther, true, mustHex("f4ed19e0c114eb516faaac0ee37daf2807b4381f")},
	{"ZyXEL ZyWALL Router", VendorOther, false, mustHex("b858d1addd08c1e8adafea150608aa4497aa6cc8")},
	{"ZyXEL ZyWALL USG 100", VendorOther, false, mustHex("f758f22668750f03b08df6ebe1d0")},
	{"ZyXEL ZyWALL", VendorOther, false, mustHex("625027749d5ab97f5616c1602765cf480a3b7d0b")},
	{"NAT-T (RFC 3947)", VendorNATTRFC3947, false, vidRFC3947},
	{"draft-ietf-ipsec-nat-t-ike-03", VendorNATTDraft03, false, vidDraft03},
	{"draft-ietf-ipsec-nat-t-ike-02", VendorNATTDraft02, false, vidDraft02},
	{`draft-ietf-ipsec-nat-t-ike-02\n`, VendorNATTDraft02N, false, vidDraft02N},
	{"draft-ietf-ipsec-nat-t-ike-08", VendorNATTOld, false, mustHex("8f8d83826d246b6fc7a8a6a428c11de8")},
	{"draft-ietf-ipsec-nat-t-ike-07", VendorNATTOld, false, mustHex("439b59f8ba676c4c7737ae22eab8f582")},
	{"draft-ietf-ipsec-nat-t-ike-06", VendorNATTOld, false, mustHex("4d1e0e136deafa34c4f3ea9f02ec7285")},
	{"draft-ietf-ipsec-nat-t-ike-05", VendorNATTOld, false, mustHex("80d0bb3def54565ee84645d4c85ce3ee")},
	{"draft-ietf-ipsec-nat-t-ike-04", VendorNATTOld, false, mustHex("9909b64eed937c6573de52ace952fa6b")},
	{"draft-ietf-ipsec-nat-t-ike-00", VendorNATTOld, false, mustHex("4485152d18b6bbcd0be8a8469579ddcc")},
	{"draft-ietf-ipsec-nat-t-ike", VendorNATTOld, false, mustHex("4df37928e9fc4fd1b3262170d515c662")},
	{"draft-stenberg-ipsec-nat-traversal-02", VendorNATTOld, false, mustHex("6105c422e76847e43f968480129aaecd")},
	{"draft-stenberg-ipsec-nat-traversal-01", VendorNATTOld, false, mustHex("27bab5dc01ea0760ea4e3190ac27c0d0")},
}

// maxVendorIDLog bounds the hex of an unknown Vendor ID in a log line.
const maxVendorIDLog = 32

// fragmentationIKE is the capability bit of the FRAGMENTATION Vendor ID
// that says Main and Aggressive Mode messages may be fragmented (racoon's
// and strongSwan's reading; Windows sends the 16-byte ID alone).
const fragmentationIKE = 0x80000000

// VendorInfo is what one received Vendor ID was recognised as.
type VendorInfo struct {
	Kind VendorKind
	// Name is the table's name, or "unknown <hex>" (at most 32 bytes of hex).
	Name string
}

// String returns the name, as a debug log prints it.
func (v VendorInfo) String() string { return v.Name }

// LookupVendorID recognises one Vendor ID payload's data. A FRAGMENTATION
// ID counts only when it is the bare 16 bytes or carries the IKE
// capability bit, as strongSwan reads it.
func LookupVendorID(data []byte) VendorInfo {
	for _, v := range knownVendorIDs {
		switch {
		case v.Kind == VendorFragmentation:
			if len(data) == 16 && bytes.Equal(data, v.ID) {
				return VendorInfo{v.Kind, v.Name}
			}
			if len(data) == 20 && bytes.Equal(data[:16], v.ID) && binary.BigEndian.Uint32(data[16:])&fragmentationIKE != 0 {
				return VendorInfo{v.Kind, v.Name}
			}
		case v.Prefix:
			if bytes.HasPrefix(data, v.ID) {
				return VendorInfo{v.Kind, v.Name}
			}
		case bytes.Equal(data, v.ID):
			return VendorInfo{v.Kind, v.Name}
		}
	}
	h := data
	if len(h) > maxVendorIDLog {
		h = h[:maxVendorIDLog]
	}
	return VendorInfo{VendorUnknown, "unknown " + hex.EncodeToString(h)}
}

// Extensions is what a peer's Vendor IDs announce, for the phase 1 SA.
type Extensions struct {
	DPD           bool
	XAuth         bool
	Unity         bool
	Fragmentation bool
	// NATT is the best NAT-T version the peer announced (NATTNone if none).
	NATT NATTVersion
	// Seen lists every Vendor ID in order, recognised or not, for the log.
	Seen []VendorInfo
}

// maxVendorIDs bounds how many Vendor IDs of one message are looked at;
// real peers send at most a dozen.
const maxVendorIDs = 32

// PeerExtensions reads the Vendor IDs of the peer's first message (MM1 or
// MM2, AM1 or AM2).
func PeerExtensions(vids [][]byte) Extensions {
	var e Extensions
	for i, d := range vids {
		if i == maxVendorIDs {
			break
		}
		v := LookupVendorID(d)
		e.Seen = append(e.Seen, v)
		switch v.Kind {
		case VendorDPD:
			e.DPD = true
		case VendorXAuth:
			e.XAuth = true
		case VendorCiscoUnity:
			e.Unity = true
		case VendorFragmentation:
			e.Fragmentation = true
		}
		if n := nattVersionOf(v.Kind); n > e.NATT {
			e.NATT = n
		}
	}
	return e
}

// VendorIDOptions says which extensions iked announces.
type VendorIDOptions struct {
	// NATT: announce NAT traversal (policy daemon.natt-port not 0).
	NATT bool
	// DPD: announce Dead Peer Detection (RFC 3706, 2: sent whether or not
	// DPD is configured locally, so that the peer may probe us).
	DPD bool
	// Initiator: the first message of the exchange. The initiator offers
	// the RFC and the draft NAT-T IDs; the responder answers with the one
	// it chose from the peer's (RFC 3947, 3.1).
	Initiator bool
	// PeerNATT is, for the responder, the version chosen from the
	// initiator's IDs.
	PeerNATT NATTVersion
	// Unity: announce Cisco Unity, for a connection with mode-config
	// (iOS, macOS and Cisco clients expect it of a gateway; Cisco
	// gateways of a client).
	Unity bool
	// XAuth: announce XAUTH (a connection with ike.xauth), as strongSwan
	// and Cisco peers do before a Transaction exchange.
	XAuth bool
}

// OurVendorIDs returns the Vendor ID payload data iked sends in its first
// message, in the order strongSwan sends its own: XAuth, DPD, then NAT-T
// (RFC 3947 and the draft-02\n one as initiator; the chosen one as
// responder). Cisco Unity comes last, for a connection with mode-config.
// FRAGMENTATION is added by the exchange, which knows the connection
// (fragmentation.go).
func OurVendorIDs(o VendorIDOptions) [][]byte {
	var out [][]byte
	if o.XAuth {
		out = append(out, vidXAuth)
	}
	if o.DPD {
		out = append(out, vidDPD)
	}
	switch {
	case !o.NATT:
	case o.Initiator:
		out = append(out, vidRFC3947, vidDraft03, vidDraft02N)
	default:
		if id := o.PeerNATT.vendorID(); id != nil {
			out = append(out, id)
		}
	}
	if o.Unity {
		out = append(out, vidUnity)
	}
	return out
}
