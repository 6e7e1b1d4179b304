package pki

import "fmt"

// DecodeCode is the number message 8 (`SPD: could not decode certificate
// `name': number`) carries: why a certificate file of the policy is not a
// certificate. The numbers are part of iked's documented interface.
type DecodeCode int

const (
	// CodeTooLarge: the file is larger than MaxFileSize.
	CodeTooLarge DecodeCode = 1
	// CodeNotCertificate: the file is neither a PEM CERTIFICATE block nor
	// DER (BER) that starts like a certificate.
	CodeNotCertificate DecodeCode = 2
	// CodeBadEncoding: the DER does not decode as an X.509 certificate
	// (message 39 precedes it).
	CodeBadEncoding DecodeCode = 3
	// CodeBadIPAddress: a subjectAltName iPAddress has a length other
	// than 4 or 16 (message 43 precedes it).
	CodeBadIPAddress DecodeCode = 4
	// CodeUnsupportedKey: the certificate's public key is neither RSA nor
	// ECDSA on P-256, P-384 or P-521, so it cannot authenticate IKE.
	CodeUnsupportedKey DecodeCode = 5
	// CodeUnreadable: the file cannot be read and no connection names the
	// certificate (otherwise message 13 is given per connection).
	CodeUnreadable DecodeCode = 6
)

func (c DecodeCode) String() string {
	switch c {
	case CodeTooLarge:
		return "file too large"
	case CodeNotCertificate:
		return "not a certificate"
	case CodeBadEncoding:
		return "bad certificate encoding"
	case CodeBadIPAddress:
		return "bad subjectAltName IP address"
	case CodeUnsupportedKey:
		return "unsupported public key"
	case CodeUnreadable:
		return "file unreadable"
	}
	return fmt.Sprintf("DecodeCode(%d)", int(c))
}

// MaxFileSize bounds every certificate, CRL and key file pki reads.
const MaxFileSize = 4 << 20
