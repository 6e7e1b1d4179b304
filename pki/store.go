package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/iked/iked/notify"
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
	// CRL is the verified CRL of this CA, or nil.
	CRL *x509.RevocationList
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
	order []string // policy order of the loaded names, for deterministic look-ups
}

// errNotImplemented is temporary while the API is being filled in.
var errNotImplemented = errors.New("pki: not implemented")

// Load reads every item and returns the store with the items that loaded,
// and the catalog messages found on the way, in item order. A message with
// Serious() true means the policy must not be instantiated; the others
// (23, 25, and 39 beside its 8) say what was skipped or forced. now is the
// clock used for validity checks (nil: time.Now).
func Load(items []Item, now func() time.Time) (*Store, []notify.Message) {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, certs: map[string]*Cert{}}, nil
}

// Cert returns the configured certificate named name in the policy.
func (s *Store) Cert(name string) (*Cert, bool) {
	c, ok := s.certs[name]
	return c, ok
}

// PrivateKey returns the private key of the certificate this host
// authenticates with. The error is message 49 when there is none.
func (s *Store) PrivateKey(certName string) (crypto.Signer, error) {
	return nil, errNotImplemented
}

// LocalCerts returns the DER certificates to send in CERT payloads when
// authenticating with certName: the certificate itself first, then the
// configured intermediate CAs up to (not including) a trusted root.
func (s *Store) LocalCerts(certName string) ([][]byte, error) {
	return nil, errNotImplemented
}

// CARequests returns the DER subject names of the trusted CAs, for CERTREQ
// payloads (RFC 2408, 3.10; certificate type X.509 signature, 4).
func (s *Store) CARequests() [][]byte {
	return nil
}
