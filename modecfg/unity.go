package modecfg

import "net/netip"

// Cisco Unity's SPLIT_INCLUDE and LOCAL_LAN (split exclude) values are
// lists of 14-byte entries: an IPv4 network, its netmask, then six bytes
// that Cisco's client reads as a protocol and two ports and that every
// other implementation (vpnc, strongSwan's unity plugin, racoon) sends as
// zeros, as iked does.
const splitEntryLen = 14

// splitShortLen is an entry without its padding: address and netmask.
const splitShortLen = 8

// unitySplit encodes the IPv4 networks of nets (others are left out:
// Unity carries IPv4 only) as one SPLIT_INCLUDE or LOCAL_LAN value.
func unitySplit(nets []netip.Prefix) []byte {
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

// parseUnitySplit decodes a SPLIT_INCLUDE or LOCAL_LAN value (t). The
// padding of the last entry is optional: strongSwan's attr plugin (its
// split-include and split-exclude, swanctl.conf's pool split_exclude)
// sends one 8-byte network per attribute, and its unity plugin reads
// entries so.
func parseUnitySplit(t AttrType, d []byte) ([]netip.Prefix, error) {
	if len(d)%splitEntryLen != 0 && len(d)%splitEntryLen != splitShortLen {
		return nil, malformed(t, "%d bytes, not networks of %d bytes (the last may be %d)", len(d), splitEntryLen, splitShortLen)
	}
	if (len(d)+splitEntryLen-1)/splitEntryLen > maxSplit {
		return nil, malformed(t, "more than %d networks", maxSplit)
	}
	var out []netip.Prefix
	for len(d) > 0 {
		p, err := prefixOf(d[:4], d[4:8])
		if err != nil {
			return nil, malformed(t, "%v", err)
		}
		out = append(out, p)
		d = d[min(splitEntryLen, len(d)):]
	}
	return out, nil
}

// ip6Subnet encodes an INTERNAL_IP6_SUBNET value
// (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2): the 16-octet address and
// the prefix length, one octet, as strongSwan's attr plugin and
// Wireshark read it.
func ip6Subnet(p netip.Prefix) []byte {
	a := p.Masked().Addr().As16()
	return append(a[:], byte(p.Bits()))
}
