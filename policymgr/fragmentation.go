package policymgr

import (
	"fmt"
	"strings"
)

// Fragmentation is a connection's use of IKE fragmentation, the IKEv1
// scheme Cisco introduced and strongSwan implements (payload 132 and the
// FRAGMENTATION Vendor ID): the words and meanings of strongSwan's
// fragmentation option (swanctl.conf), so that a strongSwan user finds
// what they expect (docs/policy-file.md, "Remote access").
type Fragmentation uint8

const (
	// FragmentYes announces support and sends a message over the path
	// limit in fragments once the peer announced support too (the
	// default).
	FragmentYes Fragmentation = iota
	// FragmentForce sends every message over the path limit in
	// fragments, the first one included, whatever the peer announced.
	FragmentForce
	// FragmentNo neither announces nor sends fragments. Fragments the
	// peer sends are still reassembled, as strongSwan does.
	FragmentNo
)

func (f Fragmentation) String() string {
	switch f {
	case FragmentYes:
		return "yes"
	case FragmentForce:
		return "force"
	case FragmentNo:
		return "no"
	}
	return fmt.Sprintf("Fragmentation(%d)", uint8(f))
}

// fragmentation decodes a connection's fragmentation key: yes (true, on),
// force, or no (false, off).
func (d *decoder) fragmentation(cd *connDef, where string) {
	vn, given := cd.keys["fragmentation"]
	if !given {
		return
	}
	t, ok := d.str(vn, where+" fragmentation")
	if !ok {
		return
	}
	switch strings.ToLower(t) {
	case "yes", "true", "on":
		cd.conn.Fragmentation = FragmentYes
	case "force":
		cd.conn.Fragmentation = FragmentForce
	case "no", "false", "off":
		cd.conn.Fragmentation = FragmentNo
	default:
		d.errorf(vn, "%s fragmentation %q: it must be yes, force or no", where, t)
		return
	}
	if _, manual := cd.keys["manual-keys"]; manual {
		d.errorf(cd.keyAt["fragmentation"], "%s has fragmentation and manual-keys: fragmentation is for IKE messages, which a manually keyed connection does not send", where)
	}
}
