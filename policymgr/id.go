package policymgr

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/pki"
)

// parseID reads a local-id or remote-id: `ipv4:`, `ipv6:`, `fqdn:`,
// `user-fqdn:`, `dn:` or `key-id:` and the value (RFC 2407, 4.6.2.1 types
// 1, 5, 2, 3, 9, 11). A bare IP address is accepted as its ipv4:/ipv6:
// form. key-id takes `0x…` hexadecimal or text.
func parseID(s string) (ID, error) {
	kind, val, ok := strings.Cut(s, ":")
	if !ok || !validIDKind(kind) {
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Is4() {
				kind, val = "ipv4", s
			} else {
				kind, val = "ipv6", s
			}
		} else {
			return ID{}, fmt.Errorf("%q is not an identity: write ipv4:, ipv6:, fqdn:, user-fqdn:, dn: or key-id: before the value", s)
		}
	}
	val = strings.TrimSpace(val)
	if val == "" {
		return ID{}, fmt.Errorf("%q has no value after %s:", s, kind)
	}
	id := ID{Text: val}
	switch kind {
	case "ipv4", "ipv6":
		a, err := netip.ParseAddr(val)
		if err != nil || (kind == "ipv4") != a.Is4() || a.Zone() != "" {
			return ID{}, fmt.Errorf("%q is not an %s address", val, strings.ToUpper(kind[:2])+kind[2:])
		}
		if a.Is4() {
			id.Type, id.Data = isakmp.IDIPv4Addr, a.AsSlice()
		} else {
			id.Type, id.Data = isakmp.IDIPv6Addr, a.AsSlice()
		}
	case "fqdn":
		if !isHostname(val) {
			return ID{}, fmt.Errorf("%q is not a DNS name", val)
		}
		id.Type, id.Data = isakmp.IDFQDN, []byte(val)
	case "user-fqdn":
		user, domain, ok := strings.Cut(val, "@")
		if !ok || user == "" || !isHostname(domain) {
			return ID{}, fmt.Errorf("%q is not user@domain", val)
		}
		id.Type, id.Data = isakmp.IDUserFQDN, []byte(val)
	case "dn":
		der, err := pki.ParseDN(val)
		if err != nil {
			return ID{}, fmt.Errorf("%q is not a distinguished name: %v", val, err)
		}
		id.Type, id.Data = isakmp.IDDERASN1DN, der
	case "key-id":
		if strings.HasPrefix(val, "0x") {
			b, err := hex.DecodeString(val[2:])
			if err != nil || len(b) == 0 {
				return ID{}, fmt.Errorf("%q is not hexadecimal after 0x", val)
			}
			id.Data = b
		} else {
			id.Data = []byte(val)
		}
		id.Type = isakmp.IDKeyID
	}
	if len(id.Data) > 1024 {
		return ID{}, fmt.Errorf("identity %q is longer than 1024 bytes", val)
	}
	return id, nil
}

func validIDKind(k string) bool {
	switch k {
	case "ipv4", "ipv6", "fqdn", "user-fqdn", "dn", "key-id":
		return true
	}
	return false
}

// idFromAddr is the default identity of a host authenticating by PSK: its
// address (RFC 2407, 4.6.2.1, ID_IPV4_ADDR / ID_IPV6_ADDR).
func idFromAddr(a netip.Addr) ID {
	if a.Is4() {
		return ID{Type: isakmp.IDIPv4Addr, Data: a.AsSlice(), Text: a.String()}
	}
	return ID{Type: isakmp.IDIPv6Addr, Data: a.AsSlice(), Text: a.String()}
}
