package isakmp

import (
	"bytes"
	"testing"
)

// benchMessages are the clear messages a Main Mode responder decodes
// (RFC 2409, 5): a first message with an offer of two transforms and
// three Vendor IDs, and a third one with KE, nonce and two NAT-D
// payloads (RFC 3947, 3.2).
func benchMessages(b *testing.B) map[string][]byte {
	b.Helper()
	transform := func(n uint8, group uint16) *Transform {
		as := Attributes{
			BasicAttr(AttrEncryptionAlgorithm, uint16(7)),
			BasicAttr(AttrKeyLength, uint16(128)),
			BasicAttr(AttrHashAlgorithm, uint16(4)),
			BasicAttr(AttrAuthMethod, uint16(1)),
			BasicAttr(AttrGroupDescription, group),
		}
		as = append(as, LifeAttrs(AttrLifeType, AttrLifeDuration, 28800, 0)...)
		return &Transform{Number: n, ID: uint8(KeyIKE), Attributes: as}
	}
	mm1 := []Payload{
		&SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []*Proposal{{
			Number: 1, Protocol: ProtoISAKMP, Transforms: []*Transform{transform(1, 19), transform(2, 14)},
		}}},
		&VendorID{Data: bytes.Repeat([]byte{1}, 16)},
		&VendorID{Data: bytes.Repeat([]byte{2}, 16)},
		&VendorID{Data: bytes.Repeat([]byte{3}, 16)},
	}
	mm3 := []Payload{
		&KE{Data: bytes.Repeat([]byte{4}, 64)},
		&Nonce{Data: bytes.Repeat([]byte{5}, 32)},
		&NATD{Hash: bytes.Repeat([]byte{6}, 32)},
		&NATD{Hash: bytes.Repeat([]byte{7}, 32)},
	}
	out := map[string][]byte{}
	for name, ps := range map[string][]Payload{"MM1": mm1, "MM3": mm3} {
		m := &Message{Header: Header{InitiatorCookie: [8]byte{1}, Exchange: ExchangeMain}, Payloads: ps}
		d, err := m.Encode()
		if err != nil {
			b.Fatal(err)
		}
		out[name] = d
	}
	return out
}

// BenchmarkDecode is the decoding of a clear Main Mode message: its
// allocations (-benchmem) are the codec's share of a handshake's.
func BenchmarkDecode(b *testing.B) {
	ms := benchMessages(b)
	for _, name := range []string{"MM1", "MM3"} {
		b.Run(name, func(b *testing.B) {
			d := ms[name]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
