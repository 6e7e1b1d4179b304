package pki

import (
	"crypto"
	"crypto/x509"
	"time"
)

// Item is one entry of the policy file's certificates section, with its
// paths already resolved against the policy file's folder. The policy
// manager builds it; pki never reads the policy file itself.
type Item struct {
	// Name is the item's name in the policy file; every message names it.
	Name string
	// File is the certificate's path (PEM or DER). Empty: message 19.
	File string
	// Trusted marks the certificate as a point of trust (messages 23, 25).
	Trusted bool
	// CRL is the path of the CRL this CA issues (PEM or DER), or empty.
	CRL string
	// CRLStrict refuses the peers this CA certifies while its CRL is past
	// its nextUpdate; otherwise an expired CRL is a warning and still used.
	CRLStrict bool
	// PrivateKey is the path of the private key (PEM or DER; PKCS#1,
	// PKCS#8 or SEC 1), or empty.
	PrivateKey string
	// Connections lists the connections whose ike.certificate names this
	// item. Such a certificate authenticates this host, so it needs a
	// private key (message 20), and an unreadable file gives message 13
	// once for each of them.
	Connections []string
}

// Cert is one configured certificate as the store keeps it.
type Cert struct {
	Name string            // the policy item's name
	X509 *x509.Certificate // the decoded certificate
	// Trusted: the certificate is a point of trust (a root for chains).
	Trusted bool
	// Forced: trusted although it lacks Basic Constraints (message 25).
	Forced bool
	// CRL is the verified CRL of this CA as Load read it, or nil. The
	// store re-reads the file when it changes (see crlState).
	CRL *x509.RevocationList
	// CRLStrict: see Item.CRLStrict.
	CRLStrict bool
	crl       *crlState
	// Key is the private key matching X509, or nil.
	Key crypto.Signer
}

// Store holds what the certificate manager loaded: trusted roots, the
// configured certificates by policy name, their CRLs and private keys. It
// is immutable after Load, so the daemon may share it between goroutines;
// a reload builds a new Store.
type Store struct {
	now   func() time.Time
	certs map[string]*Cert
	order []*Cert // the loaded certificates in policy order
}

// Cert returns the configured certificate named name in the policy. A
// certificate that was skipped (messages 23, 42) or failed is absent.
func (s *Store) Cert(name string) (*Cert, bool) {
	c, ok := s.certs[name]
	return c, ok
}

// Certs returns the loaded certificates in policy order.
func (s *Store) Certs() []*Cert {
	return append([]*Cert(nil), s.order...)
}

// PrivateKey returns the private key of the certificate this host
// authenticates with. The error is message 49 when there is none.
func (s *Store) PrivateKey(certName string) (crypto.Signer, error) {
	c, ok := s.certs[certName]
	if !ok || c.Key == nil {
		return nil, errNoPrivateKey()
	}
	return c.Key, nil
}

// LocalCerts returns the DER certificates to send in CERT payloads when
// authenticating with certName: the certificate itself first, then each
// configured CA certificate that issued the previous one, up to and not
// including a self-signed root, which the peer must have anyway.
func (s *Store) LocalCerts(certName string) ([][]byte, error) {
	c, ok := s.certs[certName]
	if !ok {
		return nil, errNoPrivateKey()
	}
	out := [][]byte{c.X509.Raw}
	cur := c.X509
	for i := 0; i < maxChainLen; i++ {
		issuer := s.issuerOf(cur)
		if issuer == nil || selfSigned(issuer) || issuer == cur {
			break
		}
		out = append(out, issuer.Raw)
		cur = issuer
	}
	return out, nil
}

// maxChainLen bounds every walk up a chain.
const maxChainLen = 8

// issuerOf finds the configured certificate whose key signed c.
func (s *Store) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, p := range s.order {
		if p.X509 == c || !MatchDN(c.RawIssuer, p.X509.RawSubject) {
			continue
		}
		if p.X509.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return p.X509
		}
	}
	return nil
}

// selfSigned reports whether c names itself as issuer.
func selfSigned(c *x509.Certificate) bool {
	return MatchDN(c.RawIssuer, c.RawSubject)
}

// CARequests returns the DER subject names of the trusted CAs, for CERTREQ
// payloads (RFC 2408, 3.10; certificate type X.509 signature, 4).
func (s *Store) CARequests() [][]byte {
	var out [][]byte
	for _, c := range s.order {
		if c.Trusted && (c.Forced || c.X509.IsCA) {
			out = append(out, c.X509.RawSubject)
		}
	}
	return out
}
