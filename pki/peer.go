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
// ErrUntrusted, ErrRevoked or ErrKeyUsage, wrapped.
func (s *Store) VerifyPeer(received [][]byte, id ID) (*Peer, []notify.Message, error) {
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
	if len(cands) == 0 {
		cands = cas // a peer may authenticate with a CA's key
	}
	roots := x509.NewCertPool()
	nroots := 0
	for _, c := range s.order {
		if c.Trusted {
			roots.AddCert(asAnchor(c))
			nroots++
		}
		// A configured end entity without a private key is a peer's
		// certificate (trusted: pinned, its own anchor).
		if c.Key == nil && !c.X509.IsCA && !c.Forced {
			cands = append(cands, c.X509)
		}
	}
	if nroots == 0 || len(cands) == 0 {
		return nil, msgs, notify.NoPublicKey()
	}
	var idErr, chainErr error
	for _, c := range cands {
		if err := MatchID(c, id); err != nil {
			if idErr == nil {
				idErr = err
			}
			continue
		}
		p, err := s.verifyChain(c, roots, inter)
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
func (s *Store) verifyChain(c *x509.Certificate, roots, inter *x509.CertPool) (*Peer, error) {
	subject, _ := FormatDN(c.RawSubject)
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrKeyUsage, subject)
	}
	if !supportedPublicKey(c.PublicKey) {
		return nil, fmt.Errorf("%w: %q has a %s key, not RSA or ECDSA P-256/384/521", ErrUntrusted, subject, c.PublicKeyAlgorithm)
	}
	chains, err := c.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   s.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrUntrusted, subject, err)
	}
	var revErr error
	for _, chain := range chains {
		if err := s.checkRevoked(chain); err != nil {
			revErr = err
			continue
		}
		for i, x := range chain {
			if orig := s.configured(x); orig != nil {
				chain[i] = orig // the forced anchor's copy back to the original
			}
		}
		return &Peer{Cert: chain[0], Chain: chain, Key: c.PublicKey}, nil
	}
	return nil, revErr
}

// checkRevoked looks each certificate of a chain up in the CRL of the next
// one, when the policy configured one.
func (s *Store) checkRevoked(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain) && i < maxChainLen; i++ {
		crl := s.crlOf(chain[i+1])
		if crl == nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(chain[i].SerialNumber) == 0 {
				subject, _ := FormatDN(chain[i].RawSubject)
				return fmt.Errorf("%w: %q, serial %x, since %s", ErrRevoked, subject, chain[i].SerialNumber, e.RevocationTime.UTC().Format("2006-01-02 15:04:05Z"))
			}
		}
	}
	return nil
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

// crlOf returns the verified CRL of a configured CA certificate.
func (s *Store) crlOf(ca *x509.Certificate) *x509.RevocationList {
	for _, c := range s.order {
		if c.CRL != nil && c.X509.Equal(ca) {
			return c.CRL
		}
	}
	return nil
}
