package isakmp

// ExchangeType is the exchange type of the ISAKMP header; it tells the
// receiver which state machine the message belongs to.
//
// RFC 2408, 3.1 and 4; RFC 2409, 5.5 (Quick Mode) and 5.6 (New Group Mode);
// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.1 (Transaction).
type ExchangeType uint8

// Exchange types (RFC 2408, 3.1; RFC 2409, 5.5 and 5.6).
const (
	ExchangeNone               ExchangeType = 0
	ExchangeBase               ExchangeType = 1
	ExchangeIdentityProtection ExchangeType = 2 // Main Mode in RFC 2409
	ExchangeAuthOnly           ExchangeType = 3
	ExchangeAggressive         ExchangeType = 4
	ExchangeInformational      ExchangeType = 5
	ExchangeTransaction        ExchangeType = 6
	ExchangeQuickMode          ExchangeType = 32
	ExchangeNewGroupMode       ExchangeType = 33
)

// ExchangeMain is RFC 2409's name for Identity Protection.
const ExchangeMain = ExchangeIdentityProtection

var exchangeNames = map[ExchangeType]string{
	ExchangeNone:               "NONE",
	ExchangeBase:               "Base",
	ExchangeIdentityProtection: "Identity Protection",
	ExchangeAuthOnly:           "Authentication Only",
	ExchangeAggressive:         "Aggressive",
	ExchangeInformational:      "Informational",
	ExchangeTransaction:        "Transaction",
	ExchangeQuickMode:          "Quick Mode",
	ExchangeNewGroupMode:       "New Group Mode",
}

// String returns the RFC name of the exchange type, or ExchangeType(n).
func (e ExchangeType) String() string { return enumName(e, "ExchangeType", exchangeNames) }

// Flags is the flags octet of the ISAKMP header (RFC 2408, 3.1).
type Flags uint8

// Header flags (RFC 2408, 3.1).
const (
	FlagEncryption     Flags = 0x01 // E: the payloads after the header are encrypted
	FlagCommit         Flags = 0x02 // C: commit bit, key exchange synchronization
	FlagAuthentication Flags = 0x04 // A: authentication-only Informational exchange
	flagsDefined             = FlagEncryption | FlagCommit | FlagAuthentication
)

// String prints the set flags by their RFC letters, e.g. "E|C", or "0".
func (f Flags) String() string {
	s := ""
	add := func(b Flags, n string) {
		if f&b != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	add(FlagEncryption, "E")
	add(FlagCommit, "C")
	add(FlagAuthentication, "A")
	if rest := f &^ flagsDefined; rest != 0 {
		if s != "" {
			s += "|"
		}
		s += "Flags(" + uitoa(uint64(rest)) + ")"
	}
	if s == "" {
		return "0"
	}
	return s
}
