package policymgr

import (
	"net/netip"
	"strings"

	"github.com/iked/iked/isakmp"
)

// Range is an inclusive range of IP addresses of one family: a host, a
// subnet or an `a-b` range of the policy file, and what an ISAKMP ID
// payload of types 1, 4-8 carries (RFC 2407, 4.6.2.1). The zero Range is
// "any address", of either family.
type Range struct {
	From, To netip.Addr
}

// RangeOf returns the range a prefix covers.
func RangeOf(p netip.Prefix) Range {
	p = p.Masked()
	from := p.Addr()
	to := from.As16()
	host := from.BitLen() - p.Bits()
	for i := 15; i >= 0 && host > 0; i-- {
		take := min(host, 8)
		to[i] |= byte(0xff >> (8 - take))
		host -= take
	}
	toAddr := netip.AddrFrom16(to)
	if from.Is4() {
		toAddr = toAddr.Unmap()
	}
	return Range{From: from, To: toAddr}
}

// HostRange returns the range of one address.
func HostRange(a netip.Addr) Range { return Range{From: a, To: a} }

// IsAny reports the zero range: any address.
func (r Range) IsAny() bool { return !r.From.IsValid() }

// IsHost reports a range of exactly one address.
func (r Range) IsHost() bool { return r.From.IsValid() && r.From == r.To }

// Is4 and Is6 report the family; the any range is neither.
func (r Range) Is4() bool { return r.From.Is4() }
func (r Range) Is6() bool { return r.From.Is6() }

// Contains reports whether a is in the range.
func (r Range) Contains(a netip.Addr) bool {
	if r.IsAny() {
		return a.IsValid()
	}
	a = a.Unmap()
	return a.BitLen() == r.From.BitLen() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

// Covers reports whether o lies wholly inside r.
func (r Range) Covers(o Range) bool {
	if r.IsAny() {
		return true
	}
	if o.IsAny() {
		return false
	}
	return r.Contains(o.From) && r.Contains(o.To)
}

// Intersect returns the addresses in both ranges, and false when there
// are none.
func (r Range) Intersect(o Range) (Range, bool) {
	if r.IsAny() {
		return o, true
	}
	if o.IsAny() {
		return r, true
	}
	if r.From.BitLen() != o.From.BitLen() {
		return Range{}, false
	}
	from, to := r.From, r.To
	if o.From.Compare(from) > 0 {
		from = o.From
	}
	if o.To.Compare(to) < 0 {
		to = o.To
	}
	if from.Compare(to) > 0 {
		return Range{}, false
	}
	return Range{From: from, To: to}, true
}

// Prefix returns the range as a prefix when it is exactly one.
func (r Range) Prefix() (netip.Prefix, bool) {
	if r.IsAny() {
		return netip.Prefix{}, false
	}
	for bits := r.From.BitLen(); bits >= 0; bits-- {
		p := netip.PrefixFrom(r.From, bits)
		if p.Masked().Addr() != r.From {
			return netip.Prefix{}, false
		}
		if RangeOf(p).To == r.To {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// IDType returns the ISAKMP ID type that carries the range (RFC 2407,
// 4.6.2.1): an address, a subnet, or a range.
func (r Range) IDType() isakmp.IDType {
	switch {
	case r.IsAny():
		return isakmp.IDIPv4AddrSubnet
	case r.IsHost() && r.Is4():
		return isakmp.IDIPv4Addr
	case r.IsHost():
		return isakmp.IDIPv6Addr
	}
	_, subnet := r.Prefix()
	switch {
	case subnet && r.Is4():
		return isakmp.IDIPv4AddrSubnet
	case subnet:
		return isakmp.IDIPv6AddrSubnet
	case r.Is4():
		return isakmp.IDIPv4AddrRange
	}
	return isakmp.IDIPv6AddrRange
}

// String writes the range in the policy file's form.
func (r Range) String() string {
	var buf [48]byte
	return string(r.AppendTo(buf[:0]))
}

// AppendTo appends the range as String prints it ("any", an address, a
// prefix, or from-to) to b: the log line of every SA set up names two
// selectors, and one buffer for all its texts beats a string for each
// (docs/performance.md).
func (r Range) AppendTo(b []byte) []byte {
	switch {
	case r.IsAny():
		return append(b, "any"...)
	case r.IsHost():
		return appendAddr(b, r.From)
	}
	if p, ok := r.Prefix(); ok {
		return p.AppendTo(b) // p is valid: the same text as p.String()
	}
	b = append(appendAddr(b, r.From), '-')
	return appendAddr(b, r.To)
}

// appendAddr appends a.String(): AppendTo alone writes nothing for the
// zero Addr, which String prints "invalid IP".
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "invalid IP"...)
	}
	return a.AppendTo(b)
}

// addrForm is what parseAddress made of an address text.
type addrForm int

const (
	formRange   addrForm = iota // an address, subnet or range
	formBadText                 // none of the forms: message 9/10
	formFQDN                    // a DNS name: message 11/12, ID type 2
	formUser                    // user@domain: message 11/12, ID type 3
)

// parseAddress reads the policy file's address forms (docs/policy-file.md,
// "Address forms"): an address, a subnet, a range `a-b`, or nothing
// (any). A DNS name or user@domain decodes, as ISAKMP ID types 2 and 3, but
// cannot be a selector.
func parseAddress(s string) (Range, addrForm) {
	s = strings.TrimSpace(s)
	if s == "" || s == "any" {
		return Range{}, formRange
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return HostRange(a.Unmap()), formRange
	}
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Zone() == "" {
		return RangeOf(netip.PrefixFrom(p.Addr().Unmap(), p.Bits())), formRange
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, errA := netip.ParseAddr(strings.TrimSpace(lo))
		b, errB := netip.ParseAddr(strings.TrimSpace(hi))
		if errA == nil && errB == nil && a.Zone() == "" && b.Zone() == "" {
			a, b = a.Unmap(), b.Unmap()
			if a.BitLen() == b.BitLen() && a.Compare(b) <= 0 {
				return Range{From: a, To: b}, formRange
			}
			return Range{}, formBadText
		}
	}
	if user, domain, ok := strings.Cut(s, "@"); ok && user != "" && isHostname(domain) {
		return Range{}, formUser
	}
	if isHostname(s) {
		return Range{}, formFQDN
	}
	return Range{}, formBadText
}

// isHostname reports a syntactically valid DNS name (RFC 1123, 2.1): dot
// separated labels of letters, digits and hyphens, not all-numeric at the
// top, so that a mistyped address like 192.0.2.300 is not taken for one.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	top := labels[len(labels)-1]
	return strings.Trim(top, "0123456789") != ""
}
