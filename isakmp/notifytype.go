package isakmp

import "errors"

// NotifyType is the notify message type of a Notification payload. It
// implements error so that a negotiation failure can carry the notify to send
// back to the peer.
//
// RFC 2408, 3.14.1 (errors 1-30, CONNECTED 16384); RFC 2407, 4.6.3
// (RESPONDER-LIFETIME, REPLAY-STATUS, INITIAL-CONTACT); RFC 3706, 5 (DPD).
type NotifyType uint16

// Notify message types.
const (
	InvalidPayloadType      NotifyType = 1
	DOINotSupported         NotifyType = 2
	SituationNotSupported   NotifyType = 3
	InvalidCookie           NotifyType = 4
	InvalidMajorVersion     NotifyType = 5
	InvalidMinorVersion     NotifyType = 6
	InvalidExchangeType     NotifyType = 7
	InvalidFlags            NotifyType = 8
	InvalidMessageID        NotifyType = 9
	InvalidProtocolID       NotifyType = 10
	InvalidSPI              NotifyType = 11
	InvalidTransformID      NotifyType = 12
	AttributesNotSupported  NotifyType = 13
	NoProposalChosen        NotifyType = 14
	BadProposalSyntax       NotifyType = 15
	PayloadMalformed        NotifyType = 16
	InvalidKeyInformation   NotifyType = 17
	InvalidIDInformation    NotifyType = 18
	InvalidCertEncoding     NotifyType = 19
	InvalidCertificate      NotifyType = 20
	CertTypeUnsupported     NotifyType = 21
	InvalidCertAuthority    NotifyType = 22
	InvalidHashInformation  NotifyType = 23
	AuthenticationFailed    NotifyType = 24
	InvalidSignature        NotifyType = 25
	AddressNotification     NotifyType = 26
	NotifySALifetime        NotifyType = 27
	CertificateUnavailable  NotifyType = 28
	UnsupportedExchangeType NotifyType = 29
	UnequalPayloadLengths   NotifyType = 30
	Connected               NotifyType = 16384
	ResponderLifetime       NotifyType = 24576
	ReplayStatus            NotifyType = 24577
	InitialContact          NotifyType = 24578
	DPDRUThere              NotifyType = 36136
	DPDRUThereAck           NotifyType = 36137
)

var notifyNames = map[NotifyType]string{
	InvalidPayloadType:      "INVALID-PAYLOAD-TYPE",
	DOINotSupported:         "DOI-NOT-SUPPORTED",
	SituationNotSupported:   "SITUATION-NOT-SUPPORTED",
	InvalidCookie:           "INVALID-COOKIE",
	InvalidMajorVersion:     "INVALID-MAJOR-VERSION",
	InvalidMinorVersion:     "INVALID-MINOR-VERSION",
	InvalidExchangeType:     "INVALID-EXCHANGE-TYPE",
	InvalidFlags:            "INVALID-FLAGS",
	InvalidMessageID:        "INVALID-MESSAGE-ID",
	InvalidProtocolID:       "INVALID-PROTOCOL-ID",
	InvalidSPI:              "INVALID-SPI",
	InvalidTransformID:      "INVALID-TRANSFORM-ID",
	AttributesNotSupported:  "ATTRIBUTES-NOT-SUPPORTED",
	NoProposalChosen:        "NO-PROPOSAL-CHOSEN",
	BadProposalSyntax:       "BAD-PROPOSAL-SYNTAX",
	PayloadMalformed:        "PAYLOAD-MALFORMED",
	InvalidKeyInformation:   "INVALID-KEY-INFORMATION",
	InvalidIDInformation:    "INVALID-ID-INFORMATION",
	InvalidCertEncoding:     "INVALID-CERT-ENCODING",
	InvalidCertificate:      "INVALID-CERTIFICATE",
	CertTypeUnsupported:     "CERT-TYPE-UNSUPPORTED",
	InvalidCertAuthority:    "INVALID-CERT-AUTHORITY",
	InvalidHashInformation:  "INVALID-HASH-INFORMATION",
	AuthenticationFailed:    "AUTHENTICATION-FAILED",
	InvalidSignature:        "INVALID-SIGNATURE",
	AddressNotification:     "ADDRESS-NOTIFICATION",
	NotifySALifetime:        "NOTIFY-SA-LIFETIME",
	CertificateUnavailable:  "CERTIFICATE-UNAVAILABLE",
	UnsupportedExchangeType: "UNSUPPORTED-EXCHANGE-TYPE",
	UnequalPayloadLengths:   "UNEQUAL-PAYLOAD-LENGTHS",
	Connected:               "CONNECTED",
	ResponderLifetime:       "RESPONDER-LIFETIME",
	ReplayStatus:            "REPLAY-STATUS",
	InitialContact:          "INITIAL-CONTACT",
	DPDRUThere:              "R-U-THERE",
	DPDRUThereAck:           "R-U-THERE-ACK",
}

// String returns the RFC name of the notify type, or NotifyType(n).
func (n NotifyType) String() string { return enumName(n, "NotifyType", notifyNames) }

// Error makes a NotifyType usable as the error of a failed negotiation.
func (n NotifyType) Error() string { return "isakmp: notify " + n.String() }

// IsError reports whether n is in the error range 1-8191 (RFC 2408, 3.14.1).
func (n NotifyType) IsError() bool { return n >= 1 && n <= 8191 }

// NotifyTypeOf returns the notify type an error carries (wrapped with
// %w), or def.
func NotifyTypeOf(err error, def NotifyType) NotifyType {
	var n NotifyType
	if errors.As(err, &n) {
		return n
	}
	return def
}
