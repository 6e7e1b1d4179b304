// Package ikecryptotest holds what the tests of several packages need of
// ikecrypto to replay recorded exchanges.
package ikecryptotest

import (
	"bytes"
	"fmt"

	"github.com/iked/iked/ikecrypto"
)

// RecordedKey is a Diffie-Hellman key (ikecrypto.PrivateKey) of a
// recorded exchange whose private value is unknown: it sends the
// recorded public value (Public) and, for the recorded peer value (Peer)
// only, gives the shared secret the recording logged (Shared).
type RecordedKey struct {
	G                    ikecrypto.Group
	Public, Peer, Shared []byte
}

// Group returns the key's group.
func (k *RecordedKey) Group() ikecrypto.Group { return k.G }

// PublicBytes returns the recorded public value.
func (k *RecordedKey) PublicBytes() []byte { return k.Public }

// SharedSecret returns a copy of the recorded g^xy for the recorded peer
// value (the SA wipes its g^xy once established, and one recording may
// serve both roles) and an error for any other.
func (k *RecordedKey) SharedSecret(peer []byte) ([]byte, error) {
	if !bytes.Equal(peer, k.Peer) {
		return nil, fmt.Errorf("recorded key: unexpected peer public value")
	}
	return bytes.Clone(k.Shared), nil
}
