package pki

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxDNLen bounds the DER and text DNs pki handles; a DN in an ID payload
// comes from the network.
const maxDNLen = 8192

// errBadDN says a DER DN does not decode as an RDNSequence.
var errBadDN = errors.New("pki: malformed distinguished name")

// dnAttr names an attribute type as strongSwan prints and reads it
// (libstrongswan's identification.c), so that iked's log and policy use
// the same words.
type dnAttr struct {
	name string
	oid  asn1.ObjectIdentifier
	tag  cbasn1.Tag // the string type ParseDN encodes it with
}

// dnAttrs is in strongSwan's printing preference: the first entry of an
// OID gives its printed name; every name is accepted when parsing.
var dnAttrs = []dnAttr{
	{"C", asn1.ObjectIdentifier{2, 5, 4, 6}, cbasn1.PrintableString},
	{"ST", asn1.ObjectIdentifier{2, 5, 4, 8}, cbasn1.UTF8String},
	{"L", asn1.ObjectIdentifier{2, 5, 4, 7}, cbasn1.UTF8String},
	{"STREET", asn1.ObjectIdentifier{2, 5, 4, 9}, cbasn1.UTF8String},
	{"postalCode", asn1.ObjectIdentifier{2, 5, 4, 17}, cbasn1.UTF8String},
	{"O", asn1.ObjectIdentifier{2, 5, 4, 10}, cbasn1.UTF8String},
	{"OU", asn1.ObjectIdentifier{2, 5, 4, 11}, cbasn1.UTF8String},
	{"CN", asn1.ObjectIdentifier{2, 5, 4, 3}, cbasn1.UTF8String},
	{"E", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, cbasn1.IA5String},
	{"Email", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, cbasn1.IA5String},
	{"emailAddress", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, cbasn1.IA5String},
	{"serialNumber", asn1.ObjectIdentifier{2, 5, 4, 5}, cbasn1.PrintableString},
	{"DC", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, cbasn1.IA5String},
	{"UID", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, cbasn1.UTF8String},
	{"T", asn1.ObjectIdentifier{2, 5, 4, 12}, cbasn1.UTF8String},
	{"SN", asn1.ObjectIdentifier{2, 5, 4, 4}, cbasn1.UTF8String},
	{"G", asn1.ObjectIdentifier{2, 5, 4, 42}, cbasn1.UTF8String},
	{"I", asn1.ObjectIdentifier{2, 5, 4, 43}, cbasn1.UTF8String},
	{"dnQualifier", asn1.ObjectIdentifier{2, 5, 4, 46}, cbasn1.PrintableString},
	{"pseudonym", asn1.ObjectIdentifier{2, 5, 4, 65}, cbasn1.UTF8String},
	{"N", asn1.ObjectIdentifier{2, 5, 4, 41}, cbasn1.UTF8String},
	{"D", asn1.ObjectIdentifier{2, 5, 4, 13}, cbasn1.UTF8String},
}

// rdnAttr is one AttributeTypeAndValue (RFC 5280, 4.1.2.4).
type rdnAttr struct {
	oid   asn1.ObjectIdentifier
	tag   cbasn1.Tag
	value []byte
}

// parseRDNs decodes a DER Name (RFC 5280, 4.1.2.4: Name ::= RDNSequence;
// RDNSequence ::= SEQUENCE OF RelativeDistinguishedName;
// RelativeDistinguishedName ::= SET OF AttributeTypeAndValue), flattening
// multi-valued RDNs in encoded order as strongSwan does.
func parseRDNs(der []byte) ([]rdnAttr, error) {
	if len(der) > maxDNLen {
		return nil, errBadDN
	}
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errBadDN
	}
	var out []rdnAttr
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) || set.Empty() {
			return nil, errBadDN
		}
		for !set.Empty() {
			var atv cryptobyte.String
			var a rdnAttr
			var v cryptobyte.String
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&a.oid) ||
				!atv.ReadAnyASN1(&v, &a.tag) || !atv.Empty() {
				return nil, errBadDN
			}
			a.value = v
			out = append(out, a)
		}
	}
	return out, nil
}

// isStringTag reports whether an attribute value is a string type whose
// bytes can be printed and compared as text.
func isStringTag(t cbasn1.Tag) bool {
	switch t {
	case cbasn1.UTF8String, cbasn1.PrintableString, cbasn1.IA5String, cbasn1.T61String:
		return true
	}
	return false
}

// attrName returns strongSwan's name for an attribute type, or the
// dotted OID.
func attrName(oid asn1.ObjectIdentifier) string {
	for _, a := range dnAttrs {
		if a.oid.Equal(oid) {
			return a.name
		}
	}
	return oid.String()
}

// FormatDN returns a DER distinguished name (an RDNSequence, as in an
// ID_DER_ASN1_DN payload or a certificate's RawSubject) in strongSwan's
// text form, `C=FI, O=Example, CN=gw`: the attributes in their encoded
// order, separated by ", ", values unescaped, a value that is not a string
// as # and hex. Messages name peers this way so that operators can compare
// iked's log with strongSwan's.
func FormatDN(der []byte) (string, error) {
	attrs, err := parseRDNs(der)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, a := range attrs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(attrName(a.oid))
		b.WriteByte('=')
		if isStringTag(a.tag) {
			b.WriteString(printable(string(a.value)))
		} else {
			b.WriteByte('#')
			b.WriteString(hex.EncodeToString(a.value))
		}
	}
	return b.String(), nil
}

// printable replaces every byte outside printable ASCII with '?', as
// strongSwan prints identities (so `CN=Jörg` is `CN=J??rg` in both logs),
// which also keeps a peer's DN from forging log lines.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// ParseDN encodes a text DN (`C=FI, O=Example, CN=gw`, the policy's `dn:`
// identities) as a DER RDNSequence, one attribute per RDN in the order
// written. Attribute names are strongSwan's (C, ST, L, O, OU, CN, E, DC,
// ...) or a dotted OID; a comma inside a value is written `\,`. C and
// serialNumber are PrintableStrings, E and DC IA5Strings, the rest
// UTF8Strings, as OpenSSL encodes them.
func ParseDN(text string) ([]byte, error) {
	if len(text) > maxDNLen {
		return nil, errors.New("pki: DN too long")
	}
	parts, err := splitDN(text)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, p := range parts {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(p.oid)
					b.AddASN1(p.tag, func(b *cryptobyte.Builder) { b.AddBytes(p.value) })
				})
			})
		}
	})
	return b.Bytes()
}

// splitDN splits `K=V, K=V` (also `/K=V/K=V`, as strongSwan accepts) into
// attributes.
func splitDN(text string) ([]rdnAttr, error) {
	text = strings.TrimSpace(text)
	sep := byte(',')
	if strings.HasPrefix(text, "/") {
		sep = '/'
		text = text[1:]
	}
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text):
			i++
			cur.WriteByte(text[i])
		case c == sep:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	fields = append(fields, cur.String())
	var out []rdnAttr
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("pki: DN %q: %q is not TYPE=value", text, f)
		}
		a, err := lookupAttr(k)
		if err != nil {
			return nil, fmt.Errorf("pki: DN %q: %w", text, err)
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("pki: DN %q: value is not UTF-8", text)
		}
		tag := a.tag
		if tag != cbasn1.UTF8String && !isPrintableASCII(v, tag) {
			tag = cbasn1.UTF8String
		}
		out = append(out, rdnAttr{oid: a.oid, tag: tag, value: []byte(v)})
	}
	return out, nil
}

// lookupAttr finds an attribute type by strongSwan's name (any case) or
// dotted OID.
func lookupAttr(k string) (dnAttr, error) {
	for _, a := range dnAttrs {
		if strings.EqualFold(a.name, k) {
			return a, nil
		}
	}
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(k, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return dnAttr{}, fmt.Errorf("unknown attribute type %q", k)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return dnAttr{}, fmt.Errorf("unknown attribute type %q", k)
	}
	return dnAttr{name: k, oid: oid, tag: cbasn1.UTF8String}, nil
}

// isPrintableASCII reports whether v fits the restricted string type tag.
func isPrintableASCII(v string, tag cbasn1.Tag) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 {
			return false
		}
		if tag == cbasn1.PrintableString && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			c >= '0' && c <= '9' || strings.IndexByte(" '()+,-./:=?", c) >= 0) {
			return false
		}
	}
	return true
}

// MatchDN reports whether two DER distinguished names are the same as
// strongSwan compares them: the same attribute types in the same order
// with equal values; string values compare as text whatever their string
// type, case-insensitively where either side is a PrintableString or an
// IA5String.
func MatchDN(a, b []byte) bool {
	x, err := parseRDNs(a)
	if err != nil {
		return false
	}
	y, err := parseRDNs(b)
	if err != nil || len(x) != len(y) {
		return false
	}
	for i := range x {
		if !x[i].oid.Equal(y[i].oid) {
			return false
		}
		if !isStringTag(x[i].tag) || !isStringTag(y[i].tag) {
			if x[i].tag != y[i].tag || string(x[i].value) != string(y[i].value) {
				return false
			}
			continue
		}
		caseless := func(t cbasn1.Tag) bool { return t == cbasn1.PrintableString || t == cbasn1.IA5String }
		if caseless(x[i].tag) || caseless(y[i].tag) {
			if !strings.EqualFold(string(x[i].value), string(y[i].value)) {
				return false
			}
		} else if string(x[i].value) != string(y[i].value) {
			return false
		}
	}
	return true
}
