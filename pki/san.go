package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// oidSubjectAltName is id-ce-subjectAltName (RFC 5280, 4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// errBadSAN says a subjectAltName extension does not decode.
var errBadSAN = errors.New("pki: malformed subjectAltName")

// GeneralName tags (RFC 5280, 4.2.1.6), context-specific.
const (
	gnRFC822Name    = 1
	gnDNSName       = 2
	gnDirectoryName = 4
	gnIPAddress     = 7
)

// altNames is what pki reads from a subjectAltName itself: crypto/x509
// refuses a certificate whose iPAddress has a bad length without saying
// which length (message 43 needs it), and does not return directoryName.
type altNames struct {
	badIPLengths []int
	dirNames     [][]byte // DER RDNSequences
}

// parseAltNames reads the subjectAltName of a DER certificate with
// cryptobyte, not trusting crypto/x509 to have parsed it. It is used both
// when crypto/x509 refused the certificate and to collect directoryNames.
func parseAltNames(der []byte) (altNames, error) {
	var an altNames
	ext, err := findExtension(der, oidSubjectAltName)
	if err != nil || ext == nil {
		return an, err
	}
	// RFC 5280, 4.2.1.6: GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
	s := cryptobyte.String(ext)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return an, errBadSAN
	}
	for !seq.Empty() {
		var v cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&v, &tag) {
			return an, errBadSAN
		}
		switch tag {
		case cbasn1.Tag(gnIPAddress).ContextSpecific():
			if len(v) != 4 && len(v) != 16 {
				an.badIPLengths = append(an.badIPLengths, len(v))
			}
		case cbasn1.Tag(gnDirectoryName).ContextSpecific().Constructed():
			// directoryName [4] Name: explicit, so v holds the RDNSequence.
			var name cryptobyte.String
			if !v.ReadASN1Element(&name, cbasn1.SEQUENCE) {
				return an, errBadSAN
			}
			an.dirNames = append(an.dirNames, []byte(name))
		}
	}
	return an, nil
}

// findExtension returns the extnValue contents of the extension oid in a
// DER certificate, or nil if it has none (RFC 5280, 4.1).
func findExtension(der []byte, oid asn1.ObjectIdentifier) ([]byte, error) {
	bad := errors.New("pki: malformed certificate")
	s := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !s.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, bad
	}
	// TBSCertificate: version [0] EXPLICIT, serialNumber, signature, issuer,
	// validity, subject, subjectPublicKeyInfo, issuerUniqueID [1],
	// subjectUniqueID [2], extensions [3] EXPLICIT.
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad
	}
	for i := 0; i < 6; i++ {
		if !tbs.SkipASN1(peekTag(tbs)) {
			return nil, bad
		}
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific()) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific()) {
		return nil, bad
	}
	var exts cryptobyte.String
	var present bool
	if !tbs.ReadOptionalASN1(&exts, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) {
		return nil, bad
	}
	if !present {
		return nil, nil
	}
	var list cryptobyte.String
	if !exts.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, bad
	}
	for !list.Empty() {
		var ext cryptobyte.String
		var id asn1.ObjectIdentifier
		var value []byte
		if !list.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&id) {
			return nil, bad
		}
		if !ext.SkipOptionalASN1(cbasn1.BOOLEAN) || !ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) {
			return nil, bad
		}
		if id.Equal(oid) {
			return value, nil
		}
	}
	return nil, nil
}

// peekTag returns the tag of the next element, or 0 when there is none
// (then the following read fails).
func peekTag(s cryptobyte.String) cbasn1.Tag {
	if len(s) == 0 {
		return 0
	}
	return cbasn1.Tag(s[0])
}

// dirNamesOf returns the directoryName subjectAltNames of a certificate
// crypto/x509 parsed (it keeps them only as raw extension bytes).
func dirNamesOf(c *x509.Certificate) [][]byte {
	an, err := parseAltNames(c.Raw)
	if err != nil {
		return nil
	}
	return an.dirNames
}
