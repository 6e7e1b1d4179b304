package modecfg

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/iked/iked/isakmp"
)

// Config is what a gateway hands a client in a REPLY or SET: the values of
// the attributes this package builds and parses.
type Config struct {
	// Address is the client's address; Bits its prefix length (from
	// INTERNAL_IP4_NETMASK, or the prefix byte strongSwan appends to
	// INTERNAL_IP6_ADDRESS; 0: not given).
	Address netip.Addr
	Bits    int
	// DNS servers, of either family, in the order given.
	DNS []netip.Addr
	// Domain is Unity's default domain; Banner the text to show the user.
	Domain, Banner string
	// Split are the networks to reach through the tunnel (Unity
	// SPLIT_INCLUDE, INTERNAL_IP4_SUBNET or INTERNAL_IP6_SUBNET); none:
	// everything. Exclude are those to keep outside it (Unity LOCAL_LAN).
	Split   []netip.Prefix
	Exclude []netip.Prefix
}

// The bounds of what a client takes from its gateway; a real gateway
// sends a handful of each.
const (
	maxDNS   = 8
	maxSplit = 256
	maxText  = 4096
)

// ErrMalformed is wrapped by Parse's errors.
var ErrMalformed = errors.New("malformed Mode Config attribute")

func malformed(t AttrType, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrMalformed, t, fmt.Sprintf(format, args...))
}

// Parse reads a REPLY's or SET's attributes (client side). Attributes it
// does not use are skipped; a value of the wrong length, a repeated
// address, an out-of-bounds list or text that is not UTF-8 is an error.
// An attribute with an empty value (the gateway echoing the request
// without an answer) is skipped.
func Parse(attrs []isakmp.Attribute) (Config, error) {
	var c Config
	for _, a := range attrs {
		t := AttrType(a.Type)
		if a.Basic {
			continue // every attribute of the draft's that this package reads is variable
		}
		d := a.Data
		if len(d) == 0 {
			continue
		}
		switch t {
		case InternalIP4Address, InternalIP6Address:
			if c.Address.IsValid() {
				return Config{}, malformed(t, "a second address")
			}
			want := 4
			if t == InternalIP6Address {
				want = 16
			}
			// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2: 16 octets for
			// IPv6; strongSwan appends a prefix-length octet.
			if len(d) != want && (t != InternalIP6Address || len(d) != 17) {
				return Config{}, malformed(t, "%d bytes", len(d))
			}
			c.Address, _ = netip.AddrFromSlice(d[:want])
			if len(d) == 17 {
				if d[16] > 128 {
					return Config{}, malformed(t, "prefix length %d", d[16])
				}
				c.Bits = int(d[16])
			}
		case InternalIP4Netmask, InternalIP6Netmask:
			_, ok := netip.AddrFromSlice(d)
			bits, contiguous := maskBits(d)
			if !ok || !contiguous || (t == InternalIP4Netmask) != (len(d) == 4) {
				return Config{}, malformed(t, "%x is not a netmask", d)
			}
			c.Bits = bits
		case InternalIP4DNS, InternalIP6DNS:
			want := 4
			if t == InternalIP6DNS {
				want = 16
			}
			if len(d) != want {
				return Config{}, malformed(t, "%d bytes", len(d))
			}
			if len(c.DNS) == maxDNS {
				return Config{}, malformed(t, "more than %d servers", maxDNS)
			}
			a, _ := netip.AddrFromSlice(d)
			c.DNS = append(c.DNS, a)
		case UnityDefDomain, UnityBanner:
			if len(d) > maxText || !utf8.Valid(d) {
				return Config{}, malformed(t, "%d bytes of text that is not UTF-8 or too long", len(d))
			}
			s := strings.TrimRight(string(d), "\x00")
			if t == UnityDefDomain {
				c.Domain = s
			} else {
				c.Banner = s
			}
		case UnitySplitInclude, UnityLocalLAN:
			nets, err := parseUnitySplit(t, d)
			if err != nil {
				return Config{}, err
			}
			to := &c.Split
			if t == UnityLocalLAN {
				to = &c.Exclude
			}
			if len(*to)+len(nets) > maxSplit {
				return Config{}, malformed(t, "more than %d networks", maxSplit)
			}
			*to = append(*to, nets...)
		case InternalIP6Subnet:
			// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2: the address and
			// the prefix length.
			if len(d) != 17 || d[16] > 128 {
				return Config{}, malformed(t, "%d bytes", len(d))
			}
			a, _ := netip.AddrFromSlice(d[:16])
			if len(c.Split) == maxSplit {
				return Config{}, malformed(t, "more than %d networks", maxSplit)
			}
			c.Split = append(c.Split, netip.PrefixFrom(a, int(d[16])).Masked())
		case InternalIP4Subnet:
			// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2: address and mask.
			if len(d) != 8 {
				return Config{}, malformed(t, "%d bytes", len(d))
			}
			p, err := prefixOf(d[:4], d[4:])
			if err != nil {
				return Config{}, malformed(t, "%v", err)
			}
			if len(c.Split) == maxSplit {
				return Config{}, malformed(t, "more than %d networks", maxSplit)
			}
			c.Split = append(c.Split, p)
		}
	}
	return c, nil
}

// maskBits returns the prefix length of a contiguous netmask.
func maskBits(m []byte) (int, bool) {
	bits, done := 0, false
	for _, b := range m {
		for i := 7; i >= 0; i-- {
			set := b&(1<<i) != 0
			switch {
			case set && done:
				return 0, false
			case set:
				bits++
			default:
				done = true
			}
		}
	}
	return bits, true
}

// prefixOf is an address and a netmask of the same length as a prefix.
func prefixOf(addr, mask []byte) (netip.Prefix, error) {
	a, ok := netip.AddrFromSlice(addr)
	bits, contiguous := maskBits(mask)
	if !ok || !contiguous || len(addr) != len(mask) {
		return netip.Prefix{}, fmt.Errorf("%x/%x is not a network", addr, mask)
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// netmask is the mask of a prefix length for an address of n bytes.
func netmask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}
