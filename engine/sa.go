package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/iked/iked/notify"
)

// SA is one protocol of a bundle in one direction: its SPI (the CPI for
// IPComp, RFC 3173, 2.2: 16 bits) and its algorithms. The addresses, mode,
// encapsulation and lifetimes are the bundle's, so that the two directions
// and the protocols of a chain cannot disagree on them.
type SA struct {
	Protocol    Protocol
	SPI         uint32
	Encryption  *Cipher      // ESP only
	Integrity   *Integrity   // AH; ESP unless Encryption is AEAD
	Compression *Compression // IPComp only
}

func (s SA) String() string { return fmt.Sprintf("%s[0x%08x]", s.Protocol, s.SPI) }

// Lifetime bounds an SA in time and volume (RFC 2407, 4.5 SA Life Type and
// Duration). Zero means no limit. The soft limits make the kernel report a
// soft EXPIRE so the daemon can rekey before the hard limit deletes the SA.
type Lifetime struct {
	SoftSeconds, HardSeconds uint64
	SoftKBytes, HardKBytes   uint64
}

// Encap is UDP encapsulation of ESP for NAT traversal (RFC 3948, 2.1), with
// the ports as seen from this host. OriginalAddress is, in transport mode,
// the peer's address as the peer knows itself (its NAT-OA, RFC 3947, 5.2):
// what the TCP and UDP checksums of its packets were computed over (RFC
// 3948, 3.1.2). XFRM keeps it with the SA (encap_oa); Linux does not
// correct the checksums with it but accepts a transport-mode packet that
// came out of UDP-encapsulated ESP without checking them (esp_input_done2
// in net/ipv4/esp4.c). Zero when unknown or in tunnel mode.
type Encap struct {
	LocalPort, RemotePort uint16
	OriginalAddress       netip.Addr
}

// Bundle is what one Quick Mode negotiates: the SAs of every protocol of the
// chosen proposal, inbound and outbound, between two outer addresses.
type Bundle struct {
	ID    uint32 // named by messages 65 and 66
	ReqID uint32 // ties the SAs to their kernel policies
	Mode  Mode

	// Local and Remote are the outer addresses: the tunnel endpoints, or the
	// hosts themselves in transport mode.
	Local, Remote netip.Addr

	// Selector restricts the SAs to the negotiated traffic; XFRM checks it
	// on input in transport mode. The zero Selector matches everything.
	Selector Selector

	Encap        *Encap // NAT-T; ESP only
	Lifetime     Lifetime
	ReplayWindow uint8 // packets; 0 disables anti-replay (manual keys)

	Inbound  []SA // SPIs we chose (allocated with AllocSPI, or manual)
	Outbound []SA // SPIs the peer chose
}

// SARef names one installed SA the way the kernel finds it (RFC 4301, 4.1:
// SPI, destination and protocol).
type SARef struct {
	Protocol Protocol
	SPI      uint32
	Src, Dst netip.Addr
}

func (r SARef) String() string {
	return fmt.Sprintf("%s[0x%08x] %s->%s", r.Protocol, r.SPI, r.Src, r.Dst)
}

// Refs lists the bundle's SAs, inbound first, innermost protocol first.
func (b *Bundle) Refs() []SARef {
	return b.AppendRefs(make([]SARef, 0, len(b.Inbound)+len(b.Outbound)))
}

// AppendRefs appends the bundle's SAs to refs as Refs lists them, so that
// a caller that needs them only for a moment can keep them on its stack.
func (b *Bundle) AppendRefs(refs []SARef) []SARef {
	for _, s := range b.Inbound {
		refs = append(refs, SARef{Protocol: s.Protocol, SPI: s.SPI, Src: b.Remote, Dst: b.Local})
	}
	for _, s := range b.Outbound {
		refs = append(refs, SARef{Protocol: s.Protocol, SPI: s.SPI, Src: b.Local, Dst: b.Remote})
	}
	return refs
}

// SAMode is the mode the kernel gets for protocol p of the bundle: on Linux
// only the innermost transform of a chain (IPComp, then ESP, then AH)
// carries the tunnel; the outer ones are transport mode over it, as
// strongSwan installs them.
func (b *Bundle) SAMode(sas []SA, p Protocol) Mode {
	if b.Mode == ModeTransport {
		return ModeTransport
	}
	inner := p
	for _, s := range sas {
		if s.Protocol.chainRank() < inner.chainRank() {
			inner = s.Protocol
		}
	}
	if inner == p {
		return ModeTunnel
	}
	return ModeTransport
}

// Errors of bundle validation besides messages 65 and 66.
var (
	ErrBadAddresses  = errors.New("engine: outer addresses missing or of different families")
	ErrBadProtocol   = errors.New("engine: not an IPsec protocol")
	ErrDuplicate     = errors.New("engine: protocol twice in one direction")
	ErrChainMismatch = errors.New("engine: inbound and outbound protocols differ")
	ErrBadSPI        = errors.New("engine: SPI below 256, or CPI above 65535")
	ErrAlgorithms    = errors.New("engine: algorithms do not fit the protocol")
	ErrEncap         = errors.New("engine: UDP encapsulation needs ESP and both ports")
	ErrLifetime      = errors.New("engine: soft lifetime above hard lifetime")
)

// Validate checks a bundle before anything reaches the kernel, so that a bad
// one installs nothing. A bundle without inbound SAs is message 65, without
// outbound SAs message 66 (returned as notify.Message).
func (b *Bundle) Validate() error {
	if len(b.Inbound) == 0 {
		return notify.BundleNoInbound(int(b.ID))
	}
	if len(b.Outbound) == 0 {
		return notify.BundleNoOutbound(int(b.ID))
	}
	if !b.Local.IsValid() || !b.Remote.IsValid() || b.Local.Is4() != b.Remote.Is4() {
		return ErrBadAddresses
	}
	if b.Mode != ModeTransport && b.Mode != ModeTunnel {
		return fmt.Errorf("engine: %v", b.Mode)
	}
	l := b.Lifetime
	if (l.HardSeconds != 0 && l.SoftSeconds > l.HardSeconds) || (l.HardKBytes != 0 && l.SoftKBytes > l.HardKBytes) {
		return ErrLifetime
	}
	in, err := chainOf(b.Inbound)
	if err != nil {
		return err
	}
	out, err := chainOf(b.Outbound)
	if err != nil {
		return err
	}
	if !slices.Equal(in, out) {
		return ErrChainMismatch
	}
	if b.Encap != nil && (!slices.Contains(in, ProtoESP) || b.Encap.LocalPort == 0 || b.Encap.RemotePort == 0) {
		return ErrEncap
	}
	// Each direction in turn rather than both appended into a new slice:
	// Validate runs for every bundle installed.
	for _, sas := range [2][]SA{b.Inbound, b.Outbound} {
		for _, s := range sas {
			if err := s.validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

// chainOf returns the protocols of one direction, innermost first, and
// refuses a protocol given twice.
func chainOf(sas []SA) ([]Protocol, error) {
	ps := make([]Protocol, 0, len(sas))
	for _, s := range sas {
		if !s.Protocol.Valid() {
			return nil, fmt.Errorf("%w: %d", ErrBadProtocol, uint8(s.Protocol))
		}
		if slices.Contains(ps, s.Protocol) {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, s.Protocol)
		}
		ps = append(ps, s.Protocol)
	}
	slices.SortFunc(ps, func(a, b Protocol) int { return a.chainRank() - b.chainRank() })
	return ps, nil
}

func (s SA) validate() error {
	// RFC 2408, 2.4 / RFC 4303, 2.1: SPIs 1-255 are reserved by IANA.
	if s.SPI < 256 || (s.Protocol == ProtoIPComp && s.SPI > 0xffff) {
		return fmt.Errorf("%w: %s", ErrBadSPI, s)
	}
	switch s.Protocol {
	case ProtoESP:
		if s.Encryption == nil || s.Compression != nil || s.Encryption.Name == "" {
			return fmt.Errorf("%w: %s needs a cipher", ErrAlgorithms, s)
		}
		if s.Encryption.AEAD() == (s.Integrity != nil) {
			return fmt.Errorf("%w: %s needs integrity unless its cipher is AEAD, and not both", ErrAlgorithms, s)
		}
	case ProtoAH:
		if s.Integrity == nil || s.Encryption != nil || s.Compression != nil {
			return fmt.Errorf("%w: %s needs integrity only", ErrAlgorithms, s)
		}
	case ProtoIPComp:
		if s.Compression == nil || s.Compression.Name == "" || s.Encryption != nil || s.Integrity != nil {
			return fmt.Errorf("%w: %s needs a compression algorithm only", ErrAlgorithms, s)
		}
	}
	if s.Integrity != nil && (s.Integrity.Name == "" || len(s.Integrity.Key) == 0 || s.Integrity.TruncBits <= 0 || s.Integrity.TruncBits%8 != 0 || s.Integrity.TruncBits > 512) {
		return fmt.Errorf("%w: %s integrity algorithm, key or truncation missing", ErrAlgorithms, s)
	}
	return nil
}
