package pki

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/iked/iked/isakmp"
)

// ID is a peer's identity as its ID payload carries it (RFC 2407, 4.6.2):
// the type and the identification data, without protocol and port. The
// type is isakmp's (RFC 2407, 4.6.2.1), one list of values and names for
// the whole module (pki sits above isakmp: README.md, Layout).
type ID struct {
	Type isakmp.IDType
	Data []byte
}

// ErrIDMismatch says a peer's identity is not among its certificate's
// names: the peer claims to be someone its certificate does not vouch for.
var ErrIDMismatch = errors.New("pki: the peer's ID is not a name of its certificate")

// maxNameText bounds a name as String shows it: a DNS name has at most
// 255 octets (RFC 1035, 2.3.4).
const maxNameText = 255

// maxIDLen bounds the identification data pki looks at.
const maxIDLen = 8192

// String returns the identity as messages show it: an address, a name, or
// a DN in strongSwan's form (`C=FI, O=Example, CN=gw`).
func (id ID) String() string {
	switch id.Type {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		if len(id.Data) == 4 || len(id.Data) == 16 {
			return net.IP(id.Data).String()
		}
	case isakmp.IDFQDN, isakmp.IDUserFQDN:
		if len(id.Data) > maxNameText {
			return printable(string(id.Data[:maxNameText])) + "..."
		}
		return printable(string(id.Data))
	case isakmp.IDDERASN1DN:
		if s, err := FormatDN(id.Data); err == nil {
			return s
		}
	}
	return fmt.Sprintf("%s:%x", id.Type, id.Data)
}

// MatchID reports whether the peer's identity is one of the certificate's
// names (RFC 4945, 3.1, as strongSwan checks it): an IPv4 or IPv6 address,
// an FQDN or a user FQDN among its subjectAltNames (names without regard
// to case), a DN equal to its subject or to a directoryName
// subjectAltName (MatchDN), a KEY_ID equal to its subject key identifier
// or the SHA-1 of its public key. A nil error means it matches.
func MatchID(cert *x509.Certificate, id ID) error {
	if cert == nil {
		return errors.New("pki: no certificate")
	}
	if len(id.Data) == 0 || len(id.Data) > maxIDLen {
		return fmt.Errorf("%w: %s of %d bytes", ErrIDMismatch, id.Type, len(id.Data))
	}
	ok := false
	switch id.Type {
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		want := 4
		if id.Type == isakmp.IDIPv6Addr {
			want = 16
		}
		if len(id.Data) != want {
			return fmt.Errorf("%w: %s of %d bytes", ErrIDMismatch, id.Type, len(id.Data))
		}
		for _, ip := range cert.IPAddresses {
			if ip.Equal(net.IP(id.Data)) && (len(ip.To4()) == 4) == (want == 4) {
				ok = true
			}
		}
	case isakmp.IDFQDN:
		name := strings.TrimSuffix(string(id.Data), ".")
		for _, d := range cert.DNSNames {
			if strings.EqualFold(strings.TrimSuffix(d, "."), name) {
				ok = true
			}
		}
	case isakmp.IDUserFQDN:
		for _, e := range cert.EmailAddresses {
			if strings.EqualFold(e, string(id.Data)) {
				ok = true
			}
		}
	case isakmp.IDDERASN1DN:
		ok = MatchDN(id.Data, cert.RawSubject)
		for _, dn := range dirNamesOf(cert) {
			ok = ok || MatchDN(id.Data, dn)
		}
	case isakmp.IDKeyID:
		if len(cert.SubjectKeyId) > 0 && bytes.Equal(cert.SubjectKeyId, id.Data) {
			ok = true
		}
		if h, err := publicKeyHash(cert); err == nil && bytes.Equal(h, id.Data) {
			ok = true
		}
	default:
		return fmt.Errorf("%w: %s cannot name a certificate", ErrIDMismatch, id.Type)
	}
	if !ok {
		return fmt.Errorf("%w: %s %s", ErrIDMismatch, id.Type, id)
	}
	return nil
}

// publicKeyHash is the SHA-1 of the subjectPublicKey BIT STRING (RFC 5280,
// 4.2.1.2, method 1), the key identifier strongSwan also accepts.
func publicKeyHash(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return h[:], nil
}
