package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/iked/iked/notify"
)

// Finding is a catalog message with a plain explanation the catalog text
// does not carry: which file, what went wrong, what to do. The policy
// manager logs the message and may log the detail beside it (it never
// holds key material).
type Finding struct {
	Msg    notify.Message
	Detail string // empty when the message says it all
}

// Load reads every item and returns the store with the items that loaded,
// and the catalog messages found on the way, in item order. A message
// with Serious() true means the policy must not be instantiated: 8, 13,
// 14, 15, 19, 20, 24. The others are warnings that say what was skipped or
// forced (23, 25, 42, 45) or notices that precede the serious message of
// the same fault (39 and 43 before 8; 40 and 44 before 14). now is the
// clock used for validity checks (nil: time.Now).
func Load(items []Item, now func() time.Time) (*Store, []notify.Message) {
	s, fs := LoadDetailed(items, now)
	var ms []notify.Message
	for _, f := range fs {
		ms = append(ms, f.Msg)
	}
	return s, ms
}

// LoadDetailed is Load with a detail for each message.
func LoadDetailed(items []Item, now func() time.Time) (*Store, []Finding) {
	if now == nil {
		now = time.Now
	}
	l := &loader{s: &Store{now: now, certs: map[string]*Cert{}}}
	for _, it := range items {
		l.item(it)
	}
	return l.s, l.out
}

// loader collects the findings of one Load.
type loader struct {
	s   *Store
	out []Finding
}

func (l *loader) add(m notify.Message, detail string) {
	l.out = append(l.out, Finding{Msg: m, Detail: detail})
}

// item loads one certificate item: the certificate, then its private key,
// then its CRL.
func (l *loader) item(it Item) {
	if it.File == "" {
		l.add(notify.SPDNoCertFile(it.Name), "")
		return
	}
	cert, ok := l.cert(it)
	if !ok {
		l.crl(it, nil)
		return
	}
	c := &Cert{Name: it.Name, X509: cert, Trusted: it.Trusted, CRLStrict: it.CRLStrict}
	isCA := cert.BasicConstraintsValid && cert.IsCA
	if (isCA || it.Trusted) && emptyDN(cert.RawSubject) {
		l.add(notify.CASubjectMissing(), fmt.Sprintf("certificate %q (%s) has an empty subject", it.Name, it.File))
		l.crl(it, nil)
		return
	}
	if isCA && !it.Trusted {
		l.add(notify.SPDUntrustedCA(it.Name), "")
		l.crl(it, nil)
		return
	}
	if it.Trusted && !cert.BasicConstraintsValid {
		l.add(notify.SPDTrustedNoBasicConstraints(it.Name), "")
		c.Forced = true
	}
	if !l.key(it, c) {
		return
	}
	c.CRL = l.crl(it, c)
	if c.CRL != nil {
		c.crl.cur = c.CRL
	}
	l.s.certs[it.Name] = c
	l.s.order = append(l.s.order, c)
}

// cert reads and decodes the certificate file of it.
func (l *loader) cert(it Item) (*x509.Certificate, bool) {
	b, _, err := ReadBounded(it.File)
	if errors.Is(err, ErrTooLarge) {
		l.add(notify.SPDCertDecode(it.Name, int(CodeTooLarge)), fmt.Sprintf("%s is larger than %d bytes", it.File, MaxFileSize))
		return nil, false
	}
	if err != nil {
		if len(it.Connections) == 0 {
			l.add(notify.SPDCertDecode(it.Name, int(CodeUnreadable)), err.Error())
		}
		for _, conn := range it.Connections {
			l.add(notify.SPDCertRead(it.Name, conn), err.Error())
		}
		return nil, false
	}
	ders, found := pemBlocks(b, "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
	var der []byte
	switch {
	case len(ders) > 0:
		der = ders[0]
	case !found && looksLikeDER(b):
		der = b
	default:
		l.add(notify.SPDCertDecode(it.Name, int(CodeNotCertificate)), fmt.Sprintf("%s holds no PEM CERTIFICATE block and is not DER", it.File))
		return nil, false
	}
	cert, m, code := decodeCert(der)
	if cert == nil {
		for _, x := range m {
			l.add(x, "")
		}
		l.add(notify.SPDCertDecode(it.Name, int(code)), it.File)
		return nil, false
	}
	if (len(it.Connections) > 0 || it.PrivateKey != "") && !supportedPublicKey(cert.PublicKey) {
		l.add(notify.SPDCertDecode(it.Name, int(CodeUnsupportedKey)),
			fmt.Sprintf("%s: a %s key cannot authenticate IKEv1 (RSA or ECDSA P-256/384/521)", it.File, cert.PublicKeyAlgorithm))
		return nil, false
	}
	return cert, true
}

// decodeCert decodes a DER certificate. When crypto/x509 refuses it, the
// messages say why (43 for each bad-length IP address, else 39) and code is
// the number for message 8.
func decodeCert(der []byte) (*x509.Certificate, []notify.Message, DecodeCode) {
	cert, err := x509.ParseCertificate(der)
	if err == nil {
		return cert, nil, 0
	}
	if an, aerr := parseAltNames(der); aerr == nil && len(an.badIPLengths) > 0 {
		var ms []notify.Message
		for _, n := range an.badIPLengths {
			ms = append(ms, notify.CertBadIPAddress(n))
		}
		return nil, ms, CodeBadIPAddress
	}
	return nil, []notify.Message{notify.CertBERDecode()}, CodeBadEncoding
}

// emptyDN reports whether a DER Name has no attribute (or does not
// decode, which is no more usable).
func emptyDN(der []byte) bool {
	attrs, err := parseRDNs(der)
	return err != nil || len(attrs) == 0
}

// key loads the private key of it into c. It reports false when the item
// must not be configured.
func (l *loader) key(it Item, c *Cert) bool {
	if it.PrivateKey == "" {
		if len(it.Connections) > 0 {
			l.add(notify.SPDNoPrivateKeyFile(it.Name), "")
			return false
		}
		return true
	}
	key, readErr, keyErr := readPrivateKey(it.PrivateKey)
	switch {
	case readErr != nil:
		l.add(notify.SPDPrivateKeyRead(it.Name), readErr.Error())
		return false
	case keyErr != nil:
		l.add(notify.SPDPrivateKeyBroken(it.Name), keyErr.Error())
		return false
	case !keyMatches(key, c.X509.PublicKey):
		l.add(notify.SPDPrivateKeyBroken(it.Name), fmt.Sprintf("private key file %s does not belong to certificate %s", it.PrivateKey, it.File))
		return false
	}
	c.Key = key
	return true
}

// crl loads the CRL of it, issued by ca (nil when the item's certificate is
// not configured). It returns the CRL only when its issuer and signature
// check out; an expired one is returned with a warning.
func (l *loader) crl(it Item, ca *Cert) *x509.RevocationList {
	if it.CRL == "" {
		return nil
	}
	var caX509 *x509.Certificate
	if ca != nil {
		ca.crl = &crlState{file: it.CRL}
		caX509 = ca.X509
	}
	crl, stamp, fs := readCRL(it, caX509, l.s.now())
	l.out = append(l.out, fs...)
	if ca != nil {
		ca.crl.stamp = stamp
	}
	return crl
}

// readCRL reads and checks the CRL file of it, issued by ca (nil: the
// certificate is not configured): messages 14, 40, 44, 45 as Load gives
// them, and a warning when the CRL is past its nextUpdate at now (it is
// still returned: revocations it lists stay revoked). stamp identifies the
// file that was read, to notice a change.
func readCRL(it Item, ca *x509.Certificate, now time.Time) (*x509.RevocationList, fileStamp, []Finding) {
	b, fi, err := ReadBounded(it.CRL)
	if err != nil {
		return nil, stampOf(fi), []Finding{{notify.SPDCRLRead(it.Name), fmt.Sprintf("%s: %v", it.CRL, err)}}
	}
	stamp := stampOf(fi)
	ders, found := pemBlocks(b, "X509 CRL")
	der := b
	if len(ders) > 0 {
		der = ders[0]
	}
	var crl *x509.RevocationList
	if found && len(ders) == 0 {
		err = errors.New("no PEM X509 CRL block")
	} else {
		crl, err = x509.ParseRevocationList(der)
	}
	if err != nil {
		return nil, stamp, []Finding{{notify.CRLBERDecode(), ""}, {notify.SPDCRLRead(it.Name), fmt.Sprintf("%s: %v", it.CRL, err)}}
	}
	if ca == nil {
		return nil, stamp, []Finding{{notify.CRLIssuerKeyMissing(), fmt.Sprintf("the CRL %s of %q: the certificate is not configured", it.CRL, it.Name)}}
	}
	if emptyDN(crl.RawIssuer) || !MatchDN(crl.RawIssuer, ca.RawSubject) {
		issuer, _ := FormatDN(crl.RawIssuer)
		subject, _ := FormatDN(ca.RawSubject)
		return nil, stamp, []Finding{{notify.CRLIssuerMissing(), ""},
			{notify.SPDCRLRead(it.Name), fmt.Sprintf("%s is issued by %q, not by the certificate's subject %q", it.CRL, issuer, subject)}}
	}
	if err := checkCRLSignature(crl, ca); err != nil {
		return nil, stamp, []Finding{{notify.SPDCRLRead(it.Name), fmt.Sprintf("%s: signature does not verify with certificate %q: %v; discarding the CRL", it.CRL, it.Name, err)}}
	}
	if crlExpired(crl, now) {
		return crl, stamp, []Finding{{crlExpiredMessage(it.Name, it.CRL, crl, it.CRLStrict), ""}}
	}
	return crl, stamp, nil
}

// crlExpired reports a CRL past its nextUpdate (RFC 5280, 5.1.2.5): a newer
// one should exist, and revocations since are unknown. A CRL without
// nextUpdate never expires.
func crlExpired(crl *x509.RevocationList, now time.Time) bool {
	return !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate)
}

// crlExpiredMessage is the warning of an expired CRL; the catalog has none.
func crlExpiredMessage(name, file string, crl *x509.RevocationList, strict bool) notify.Message {
	text := fmt.Sprintf("the CRL %s of certificate `%s' expired at %s (nextUpdate): revocations since then are not known",
		file, name, crl.NextUpdate.UTC().Format("2006-01-02 15:04:05Z"))
	if strict {
		text += "; peers it certifies are refused until a current CRL replaces it (crl-strict)"
	} else {
		text += "; it is still used (crl-strict: true refuses the peers instead)"
	}
	return notify.Message{Num: 0, Level: notify.LevelWarning, Text: text}
}

// checkCRLSignature verifies a CRL's signature with its CA's key. It does
// not use RevocationList.CheckSignatureFrom, which refuses a CA without
// Basic Constraints even when the policy forces it as trusted (message 25).
func checkCRLSignature(crl *x509.RevocationList, ca *x509.Certificate) error {
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return errors.New("the certificate's key usage does not allow cRLSign")
	}
	return ca.CheckSignature(crl.SignatureAlgorithm, crl.RawTBSRevocationList, crl.Signature)
}
