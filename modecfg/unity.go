package modecfg

import "net/netip"

// Cisco Unity's SPLIT_INCLUDE value is a list of 14-byte entries: an IPv4
// network, its netmask, then six bytes that Cisco's client reads as a
// protocol and two ports and that every other implementation (vpnc,
// strongSwan's unity plugin, racoon) sends as zeros, as iked does.
const splitEntryLen = 14

// splitInclude encodes the IPv4 networks of nets (others are left out:
// Unity carries IPv4 only) as one SPLIT_INCLUDE value.
func splitInclude(nets []netip.Prefix) []byte {
	var out []byte
	for _, p := range nets {
		if !p.Addr().Is4() || p.Bits() == 0 {
			continue
		}
		a := p.Masked().Addr().As4()
		out = append(out, a[:]...)
		out = append(out, netmask(p.Bits(), 4)...)
		out = append(out, 0, 0, 0, 0, 0, 0)
	}
	return out
}

// parseSplitInclude decodes a SPLIT_INCLUDE value.
func parseSplitInclude(d []byte) ([]netip.Prefix, error) {
	if len(d)%splitEntryLen != 0 {
		return nil, malformed(UnitySplitInclude, "%d bytes, not a multiple of %d", len(d), splitEntryLen)
	}
	if len(d)/splitEntryLen > maxSplit {
		return nil, malformed(UnitySplitInclude, "more than %d networks", maxSplit)
	}
	var out []netip.Prefix
	for ; len(d) > 0; d = d[splitEntryLen:] {
		p, err := prefixOf(d[:4], d[4:8])
		if err != nil {
			return nil, malformed(UnitySplitInclude, "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}
