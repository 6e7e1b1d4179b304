package policymgr

// Secret is key material from the policy file: a pre-shared key or a
// manual key. It prints as a placeholder so that a connection logged with
// %v or %+v never shows it; the daemon logs the bytes only at the keys
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

// Bytes returns the secret's bytes, for the code that uses it.
func (s Secret) Bytes() []byte { return s }
