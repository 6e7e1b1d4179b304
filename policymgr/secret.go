package policymgr

import "fmt"

// Secret is key material from the policy file: a pre-shared key or a
// manual key. It prints as a placeholder so that a connection logged with
// %v or %+v, or encoded as JSON, never shows it; the daemon logs the bytes only at the keys
// level, deliberately, with Bytes.
type Secret []byte

// String hides the secret.
func (s Secret) String() string {
	if len(s) == 0 {
		return "(none)"
	}
	return "(secret)"
}

// GoString hides the secret from %#v too.
func (s Secret) GoString() string { return s.String() }

// Format hides the secret for every verb, %d and %x included.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// MarshalText hides the secret from encoders too (encoding/json, YAML),
// which would otherwise write a []byte out in base64 or in full.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Bytes returns the secret's bytes, for the code that uses it.
func (s Secret) Bytes() []byte { return s }
