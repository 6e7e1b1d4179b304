package pki

// FormatDN returns a DER distinguished name (an RDNSequence, as in an
// ID_DER_ASN1_DN payload or a certificate's RawSubject) in strongSwan's
// text form, `C=FI, O=Example, CN=gw`: the RDNs in their encoded order,
// separated by ", ". Messages name peers this way so that operators can
// compare iked's log with strongSwan's.
func FormatDN(der []byte) (string, error) {
	return "", errNotImplemented
}

// ParseDN encodes a text DN (`C=FI, O=Example, CN=gw`, the policy's `dn:`
// identities) as a DER RDNSequence, in the order written, for ID payloads.
func ParseDN(text string) ([]byte, error) {
	return nil, errNotImplemented
}

// MatchDN reports whether two DER distinguished names are the same as
// strongSwan compares them: the same attribute types in the same order,
// with equal values.
func MatchDN(a, b []byte) bool {
	return false
}
