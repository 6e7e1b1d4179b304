package engine

import (
	"crypto/subtle"
	"fmt"
	"strconv"
)

// Key is secret key material of an SA. It prints only its length, whatever
// the verb or encoder, so that an SA or bundle logged by mistake cannot leak
// it; code that logs keys at the `keys` debug level converts it explicitly
// ([]byte(k)).
type Key []byte

// String prints the length only.
func (k Key) String() string { return "[" + strconv.Itoa(len(k)) + " bytes]" }

// GoString prints the length only, also for %#v.
func (k Key) GoString() string { return k.String() }

// Format prints the length only for every verb, also %x and %v.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// MarshalJSON keeps keys out of JSON logs (zap's reflection encoder).
func (k Key) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(k.String())), nil }

// MarshalText keeps keys out of text encoders.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Equal compares two keys in constant time.
func (k Key) Equal(o Key) bool { return subtle.ConstantTimeCompare(k, o) == 1 }
