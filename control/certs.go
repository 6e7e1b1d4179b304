package control

import "time"

// Cert is one certificate the running policy's certificate manager
// loaded (the policy file's certificates section), with its CRL: what
// `ikectl list-certs` shows so that an operator sees what expires when.
type Cert struct {
	Name       string    `json:"name"` // the item's name in the policy file
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serial"` // hex
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	CA         bool      `json:"ca"`          // Basic Constraints says CA
	Trusted    bool      `json:"trusted"`     // a point of trust (trusted: true)
	PrivateKey bool      `json:"private_key"` // this host authenticates with it
	// DaysToExpiry is whole days from now to NotAfter, negative once it
	// has expired.
	DaysToExpiry int  `json:"days_to_expiry"`
	CRL          *CRL `json:"crl,omitempty"`
}

// CRL is the verified CRL of a CA certificate.
type CRL struct {
	Issuer     string    `json:"issuer"`
	ThisUpdate time.Time `json:"this_update"`
	// NextUpdate is when the CA promises a newer CRL (zero when the CRL
	// gives none); DaysToNextUpdate counts whole days to it, negative once
	// the CRL is stale.
	NextUpdate       time.Time `json:"next_update,omitzero"`
	DaysToNextUpdate *int      `json:"days_to_next_update,omitempty"`
	Revoked          int       `json:"revoked"` // certificates it lists
}

// DaysUntil is whole days from now to t, rounded toward minus infinity so
// that a certificate with 12 hours left shows 0 and one expired an hour
// ago shows -1.
func DaysUntil(now, t time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}
