package phase1

import (
	"fmt"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/pki"
)

// Revalidator is phase 1's daemon.Revalidator: after a reload that kept
// an SA's connection unchanged, it checks that the peer's certificate
// still verifies under the new policy (a CRL published since may revoke
// it, a trust anchor may be gone) and moves the SA to the new policy's
// connection, which Quick Mode then uses (quickmode's responder looks up
// selectors and the reqid from it). Pre-shared keys need no check here: a
// changed key changes the connection, whose SAs the daemon deletes.
type Revalidator struct{}

// Revalidate implements daemon.Revalidator.
func (Revalidator) Revalidate(c *daemon.Context) error {
	s := StateOf(c.SA)
	if s == nil || s.Conn == nil || c.Policy == nil {
		return nil
	}
	conn, ok := c.Policy.Connection(s.Conn.Name)
	if !ok {
		return fmt.Errorf("connection %s removed", s.Conn.Name)
	}
	if s.State == StateEstablished && s.usesSignature() {
		if c.Policy.Certs == nil || s.RemoteID == nil {
			return fmt.Errorf("no certificate store to verify the peer again")
		}
		ca := ""
		if conn.IKE != nil {
			ca = conn.IKE.CA
		}
		id := pki.ID{Type: s.RemoteID.IDType, Data: s.RemoteID.Data}
		if _, _, err := c.Policy.Certs.VerifyPeerCA(s.peerCerts, id, ca); err != nil {
			return fmt.Errorf("the peer's certificate no longer verifies: %w", err)
		}
	}
	s.Conn, s.Policy = conn, c.Policy
	return nil
}
