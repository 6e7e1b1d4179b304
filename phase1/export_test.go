package phase1

import "github.com/iked/iked/ikecrypto"

// Secrets returns the secret byte slices s holds, by name, for the
// external tests that check an SA leaves none behind (Wipe).
func Secrets(s *SA) map[string][]byte {
	return map[string][]byte{
		"SKEYID": s.keys.SKEYID, "SKEYID_d": s.keys.SKEYIDd, "SKEYID_a": s.keys.SKEYIDa,
		"SKEYID_e": s.keys.SKEYIDe, "Ka": s.ka, "g^xy": s.gxy, "IV": s.iv,
	}
}

// DHKey returns s's Diffie-Hellman private value.
func DHKey(s *SA) ikecrypto.PrivateKey { return s.dh }

// HoldsKeys reports whether s still references its DH private value, Ka
// or the cipher keyed with it.
func HoldsKeys(s *SA) bool { return s.dh != nil || s.ka != nil || s.cipher != nil }
