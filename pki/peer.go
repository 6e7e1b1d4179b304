package pki

import (
	"crypto"
	"crypto/x509"

	"github.com/iked/iked/notify"
)

// Peer is what a verified peer certificate proves: its end-entity
// certificate, the chain up to a trusted root, and the public key that
// checks the peer's SIG payload.
type Peer struct {
	Cert  *x509.Certificate
	Chain []*x509.Certificate // Cert first, the trusted root last
	Key   crypto.PublicKey
}

// VerifyPeer finds the peer's end-entity certificate among the DER
// certificates it sent in CERT payloads (and the configured certificates),
// validates its chain up to a trusted certificate at the store's clock
// (validity, key usage, revocation by the configured CRLs) and checks that
// id is one of its names. The messages are for logging (39 for each
// certificate that does not decode, which is then ignored); the error says
// why the peer is refused, and is message 50 when no certificate or trusted
// key can verify it.
func (s *Store) VerifyPeer(received [][]byte, id ID) (*Peer, []notify.Message, error) {
	return nil, nil, errNotImplemented
}
