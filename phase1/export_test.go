package phase1

import "github.com/iked/iked/ikecrypto"

// Secrets returns the secret byte slices s holds, by name, for the
// external tests that check an SA leaves none behind (Wipe). g^xy is
// there only while s has its Handshake (until it is established).
func Secrets(s *SA) map[string][]byte {
	m := map[string][]byte{
		"SKEYID": s.keys.SKEYID, "SKEYID_d": s.keys.SKEYIDd, "SKEYID_a": s.keys.SKEYIDa,
		"SKEYID_e": s.keys.SKEYIDe, "Ka": s.ka, "IV": s.iv,
	}
	if s.Handshake != nil {
		m["g^xy"] = s.gxy
	}
	return m
}

// DHKey returns s's Diffie-Hellman private value, nil once s has dropped
// its Handshake.
func DHKey(s *SA) ikecrypto.PrivateKey {
	if s.Handshake == nil {
		return nil
	}
	return s.dh
}

// HoldsKeys reports whether s still references its DH private value, Ka
// or the cipher keyed with it.
func HoldsKeys(s *SA) bool { return DHKey(s) != nil || s.ka != nil || s.cipher != nil }
