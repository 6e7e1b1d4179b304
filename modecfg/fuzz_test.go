package modecfg

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/iked/iked/isakmp"
)

// FuzzParse feeds Parse attribute lists cut from fuzzed bytes (type,
// length, value, as the Attribute payload carries them): it never panics,
// errors wrap ErrMalformed, and what it accepts stays within its bounds.
func FuzzParse(f *testing.F) {
	p := testPool("10.99.0.0/24")
	seed := func(attrs []isakmp.Attribute) []byte {
		var b []byte
		for _, a := range attrs {
			b = binary.BigEndian.AppendUint16(b, a.Type)
			b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
			b = append(b, a.Data...)
		}
		return b
	}
	f.Add(seed(replyAttributes(p, netip.MustParseAddr("10.99.0.7"), nil)))
	f.Add(seed([]isakmp.Attribute{variable(InternalIP6Address, make([]byte, 17)), variable(UnitySplitInclude, make([]byte, 28))}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var attrs []isakmp.Attribute
		for len(b) >= 4 {
			typ, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
			b = b[4:]
			n = min(n, len(b))
			attrs = append(attrs, isakmp.Attribute{Type: typ, Data: b[:n]})
			b = b[n:]
		}
		c, err := Parse(attrs)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(c.DNS) > maxDNS || len(c.Split) > maxSplit || len(c.Banner) > maxText || c.Bits > 128 {
			t.Fatalf("out of bounds: %+v", c)
		}
	})
}
