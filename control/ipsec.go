package control

import "time"

// ChildSA is one IPsec SA bundle on an ISAKMP SA: what one Quick Mode
// negotiated and the engine installed (RFC 2409, 5.5), strongSwan's
// CHILD_SA. ikectl list-sas nests them under their ISAKMP SA as `swanctl
// --list-sas` does. It never carries keys: those reach only the log, at
// the explicit keys level.
type ChildSA struct {
	Conn      string `json:"conn"`
	MessageID uint32 `json:"message_id"` // the Quick Mode that negotiated it
	ReqID     uint32 `json:"reqid"`      // ties its SAs to their kernel policies
	Role      string `json:"role"`       // our role in that Quick Mode: initiator | responder
	State     string `json:"state"`      // installed | rekeying
	Mode      string `json:"mode"`       // tunnel | transport
	// Encap is "udp LOCALPORT:REMOTEPORT" for UDP-encapsulated ESP (NAT
	// traversal, RFC 3948), with " oa ADDRESS" in transport mode: the
	// peer's original address (its NAT-OA), empty otherwise.
	Encap string `json:"encap,omitempty"`
	PFS   string `json:"pfs,omitempty"` // the Quick Mode's Diffie-Hellman group, empty without PFS
	// Local and Remote are the outer addresses (tunnel endpoints, or the
	// hosts in transport mode); LocalTS and RemoteTS the traffic
	// selectors (the Quick Mode IDs, RFC 2407, 4.6.2).
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	LocalTS  string `json:"local_ts"`
	RemoteTS string `json:"remote_ts"`
	// The negotiated lifetimes (RFC 2407, 4.5; 0: none) and the soft
	// ones at which the engine reports that it is time to rekey.
	LifeSeconds  uint64 `json:"life_seconds,omitempty"`
	LifeKBytes   uint64 `json:"life_kbytes,omitempty"`
	RekeySeconds uint64 `json:"rekey_seconds,omitempty"`
	RekeyKBytes  uint64 `json:"rekey_kbytes,omitempty"`
	// Installed is when the engine took the bundle; RekeyIn and ExpiresIn
	// what remains to the soft and hard lifetime (nil without a lifetime
	// in seconds; 0 once passed). In JSON they are age_seconds,
	// rekey_in_seconds and expires_in_seconds (seconds.go).
	Installed time.Time      `json:"installed"`
	Age       time.Duration  `json:"-"`
	RekeyIn   *time.Duration `json:"-"`
	ExpiresIn *time.Duration `json:"-"`
	SAs       []IPsecSA      `json:"sas"`
}

// IPsecSA is one SA of a bundle in one direction, named as the kernel
// names it (`ip xfrm state`: src, dst, proto, spi).
type IPsecSA struct {
	Direction   string `json:"direction"` // in | out
	Protocol    string `json:"protocol"`  // esp | ah | comp
	SPI         string `json:"spi"`       // 0x%08x, as ip xfrm prints it
	Src         string `json:"src"`
	Dst         string `json:"dst"`
	Encryption  string `json:"encryption,omitempty"`  // e.g. "ESP_AES/128 cbc(aes)"
	Integrity   string `json:"integrity,omitempty"`   // e.g. "HMAC-SHA2-256 hmac(sha256)/128"
	Compression string `json:"compression,omitempty"` // e.g. "IPCOMP_DEFLATE"
	// Bytes is the traffic the engine counted, when it counts (the
	// memory engine does; absent otherwise).
	Bytes *uint64 `json:"bytes,omitempty"`
}
