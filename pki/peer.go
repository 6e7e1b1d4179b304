package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/iked/iked/notify"
)

// Why a peer certificate is refused. Each is wrapped with the details; the
// caller reports AUTHENTICATION-FAILED or INVALID-ID-INFORMATION to the
// peer and logs the error.
var (
	// ErrUntrusted: no chain from the certificate to a trusted certificate
	// at the store's clock (unknown CA, missing intermediate, expired or
	// not yet valid); the crypto/x509 error is wrapped too.
	ErrUntrusted = errors.New("pki: certificate not trusted")
	// ErrRevoked: every chain contains a certificate its CA's CRL revokes.
	ErrRevoked = errors.New("pki: certificate revoked")
	// ErrKeyUsage: the certificate has a key usage without
	// digitalSignature and nonRepudiation (RFC 4945, 5.1.3.2).
	ErrKeyUsage = errors.New("pki: certificate key usage does not allow signatures")
	// ErrCAAsPeer: the peer's certificate is a CA certificate; a CA's key
	// certifies peers and never authenticates as one.
	ErrCAAsPeer = errors.New("pki: a CA certificate cannot authenticate a peer")
	// ErrCRLExpired: a CA on the chain has crl-strict and its CRL is past
	// its nextUpdate.
	ErrCRLExpired = errors.New("pki: CRL expired")
)

// maxPeerCerts bounds how many received certificates pki decodes for one
// peer.
const maxPeerCerts = 16

// Peer is what a verified peer certificate proves: its end-entity
// certificate, the chain up to a trusted root, and the public key that
// checks the peer's SIG payload.
type Peer struct {
	Cert  *x509.Certificate
	Chain []*x509.Certificate // Cert first, the trusted root last
	Key   crypto.PublicKey
}

func errNoPrivateKey() error { return notify.NoPrivateKey() }

// VerifyPeer finds the peer's end-entity certificate among the DER
// certificates it sent in CERT payloads (and the configured certificates
// without a private key, for peers that send none), validates its chain up
// to a trusted certificate at the store's clock (validity, key usage,
// revocation by the configured CRLs) and checks that id is one of its
// names (MatchID). Received certificates are tried before configured
// ones; the first that verifies is returned, and the caller must still
// check the peer's signature with Peer.Key. The messages are for logging: 39 (or 43) for each
// received certificate that does not decode, which is then ignored. The
// error says why the peer is refused: message 50 (a notify.Message) when
// no certificate or trusted key could verify it at all, else ErrIDMismatch,
// ErrUntrusted, ErrRevoked, ErrKeyUsage, ErrCAAsPeer or ErrCRLExpired,
// wrapped. The messages also carry the CRL warnings (an expired CRL, a
// changed CRL file that does not check out).
//
// A received CA certificate is never the peer's: it only helps build the
// chain (ErrCAAsPeer when the peer sent nothing else).
func (s *Store) VerifyPeer(received [][]byte, id ID) (*Peer, []notify.Message, error) {
	return s.VerifyPeerCA(received, id, "")
}

// VerifyPeerCA is VerifyPeer with the chain required to end at the
// trusted certificate named ca (a connection's ike.ca); the other
// configured CAs may still be intermediates on the way. An empty ca takes
// any trusted certificate.
func (s *Store) VerifyPeerCA(received [][]byte, id ID, ca string) (*Peer, []notify.Message, error) {
	var msgs []notify.Message
	inter := x509.NewCertPool()
	var cands []*x509.Certificate
	var cas []*x509.Certificate
	for i, der := range received {
		if i >= maxPeerCerts {
			break
		}
		c, m, _ := decodeCert(der)
		msgs = append(msgs, m...)
		if c == nil {
			continue
		}
		inter.AddCert(c)
		if c.BasicConstraintsValid && c.IsCA {
			cas = append(cas, c)
		} else {
			cands = append(cands, c)
		}
	}
	roots := x509.NewCertPool()
	nroots := 0
	for _, c := range s.order {
		switch {
		case c.Trusted && (ca == "" || c.Name == ca):
			roots.AddCert(asAnchor(c))
			nroots++
		case c.Trusted && (c.Forced || c.X509.IsCA):
			inter.AddCert(asAnchor(c)) // a path to the required CA
		}
		// A configured end entity without a private key is a peer's
		// certificate (trusted: pinned, its own anchor).
		if c.Key == nil && !c.X509.IsCA && !c.Forced {
			cands = append(cands, c.X509)
		}
	}
	if nroots == 0 || len(cands)+len(cas) == 0 {
		return nil, msgs, notify.NoPublicKey()
	}
	if len(cands) == 0 {
		subject, _ := FormatDN(cas[0].RawSubject)
		return nil, msgs, fmt.Errorf("%w: the peer sent only CA certificates (%q)", ErrCAAsPeer, subject)
	}
	var idErr, chainErr error
	for _, c := range cands {
		if err := MatchID(c, id); err != nil {
			if idErr == nil {
				idErr = err
			}
			continue
		}
		p, m, err := s.verifyChain(c, roots, inter)
		msgs = append(msgs, m...)
		if err == nil {
			return p, msgs, nil
		}
		if chainErr == nil {
			chainErr = err
		}
	}
	if chainErr != nil {
		return nil, msgs, chainErr
	}
	return nil, msgs, idErr
}

// asAnchor returns the certificate to put in the roots pool. crypto/x509
// refuses a version 3 parent without Basic Constraints; a certificate the
// policy forces as a point of trust (message 25) goes in as a copy that
// claims to be a CA, with the same bytes and key.
func asAnchor(c *Cert) *x509.Certificate {
	if !c.Forced {
		return c.X509
	}
	cp := *c.X509
	cp.BasicConstraintsValid = true
	cp.IsCA = true
	return &cp
}

// verifyChain validates c up to the roots at the store's clock and checks
// its key usage and the CRLs of every CA on the way.
func (s *Store) verifyChain(c *x509.Certificate, roots, inter *x509.CertPool) (*Peer, []notify.Message, error) {
	subject, _ := FormatDN(c.RawSubject)
	if c.BasicConstraintsValid && c.IsCA {
		return nil, nil, fmt.Errorf("%w: %q", ErrCAAsPeer, subject)
	}
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, nil, fmt.Errorf("%w: %q", ErrKeyUsage, subject)
	}
	if !supportedPublicKey(c.PublicKey) {
		return nil, nil, fmt.Errorf("%w: %q has a %s key, not RSA or ECDSA P-256/384/521", ErrUntrusted, subject, c.PublicKeyAlgorithm)
	}
	chains, err := c.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   s.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q: %w", ErrUntrusted, subject, err)
	}
	var revErr error
	var msgs []notify.Message
	for _, chain := range chains {
		m, err := s.checkRevoked(chain)
		msgs = append(msgs, m...)
		if err != nil {
			revErr = err
			continue
		}
		for i, x := range chain {
			if orig := s.configured(x); orig != nil {
				chain[i] = orig // the forced anchor's copy back to the original
			}
		}
		return &Peer{Cert: chain[0], Chain: chain, Key: c.PublicKey}, msgs, nil
	}
	return nil, msgs, revErr
}

// checkRevoked looks each certificate of a chain up in the CRL in force of
// the next one, when the policy configured one; a CA with crl-strict whose
// CRL is past its nextUpdate refuses the chain. The messages are the CRL
// warnings to log.
func (s *Store) checkRevoked(chain []*x509.Certificate) ([]notify.Message, error) {
	var msgs []notify.Message
	now := s.now()
	for i := 0; i+1 < len(chain) && i < maxChainLen; i++ {
		ca := s.caOf(chain[i+1])
		if ca == nil {
			continue
		}
		crl, m := ca.currentCRL(now)
		msgs = append(msgs, m...)
		if crl == nil {
			continue
		}
		if ca.CRLStrict && crlExpired(crl, now) {
			return msgs, fmt.Errorf("%w: the CRL of %q expired at %s and crl-strict is set", ErrCRLExpired, ca.Name, crl.NextUpdate.UTC().Format("2006-01-02 15:04:05Z"))
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(chain[i].SerialNumber) == 0 {
				subject, _ := FormatDN(chain[i].RawSubject)
				return msgs, fmt.Errorf("%w: %q, serial %x, since %s", ErrRevoked, subject, chain[i].SerialNumber, e.RevocationTime.UTC().Format("2006-01-02 15:04:05Z"))
			}
		}
	}
	return msgs, nil
}

// configured returns the configured certificate with the same bytes as c.
func (s *Store) configured(c *x509.Certificate) *x509.Certificate {
	for _, o := range s.order {
		if o.X509.Equal(c) {
			return o.X509
		}
	}
	return nil
}

// caOf returns the configured CA certificate with a CRL file that is ca.
func (s *Store) caOf(ca *x509.Certificate) *Cert {
	for _, c := range s.order {
		if c.crl != nil && c.X509.Equal(ca) {
			return c
		}
	}
	return nil
}
