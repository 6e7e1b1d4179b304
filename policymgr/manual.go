package policymgr

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

var manualKeys = []string{"protocol", "spi-in", "spi-out", "cipher-key-in", "cipher-key-out", "hmac-key-in", "hmac-key-out"}

// manualEntry is one decoded entry of manual-keys.
type manualEntry struct {
	node     *yaml.Node
	protocol isakmp.ProtocolID
	spiIn    int64 // -1: not given
	spiOut   int64
	keys     map[string][]byte
	keyNodes map[string]*yaml.Node
}

// manual checks a manually keyed connection with the B.2.2 messages
// (docs/messages.md): endpoints, exactly one proposal with at most one
// transform per protocol and one algorithm per transform, one key entry
// per protocol with inbound and outbound SPIs and keys of the algorithms'
// lengths.
func (d *decoder) manual(cd *connDef, s *sections) {
	c := cd.conn
	name := c.Name
	where := fmt.Sprintf("connection %q", name)
	k := cd.node

	// The endpoints (37): in transport mode both addresses must be hosts,
	// in tunnel mode both gateways must be addresses.
	if c.Tunnel {
		if !c.LocalGW.IsValid() || !c.RemoteGW.IsValid() {
			d.catalog(k, notify.ManualNoEndpoints(name))
		}
	} else if !c.Local.Addr.IsHost() || !c.Remote.Addr.IsHost() {
		d.catalog(k, notify.ManualNoEndpoints(name))
	}
	if vn, given := cd.keys["initiate"]; given {
		d.errorf(vn, "%s: initiate does not apply to a manually keyed connection", where)
	}

	// The keys, decoded before the proposal so that every error shows.
	var entries []*manualEntry
	mk := d.resolve(cd.keys["manual-keys"])
	if mk.Kind != yaml.SequenceNode {
		d.errorf(mk, "%s manual-keys must be a list of one entry per protocol, not %s", where, kindName(mk))
	} else {
		for i, en := range mk.Content {
			entries = append(entries, d.manualEntry(en, fmt.Sprintf("%s manual-keys entry %d", where, i+1)))
		}
	}

	// The proposal (28, 32, 33, 29, 30, 31).
	vn, given := cd.keys["proposal-list"]
	if !given {
		d.catalog(k, notify.ManualNoAlgorithms(name))
		return
	}
	ln, ok := d.str(vn, where+" proposal-list")
	if !ok {
		return
	}
	l, defined := s.lists[ln]
	if !defined {
		d.errorf(vn, "%s names proposal list %q, which the proposal-lists section does not define", where, ln)
		return
	}
	if !l.ok {
		return
	}
	if len(l.proposals) != 1 {
		d.catalog(vn, notify.ManualProposalCount(ln, name))
		return
	}
	p := l.proposals[0]
	p.used = true
	if !p.ok {
		return
	}
	good := true
	if p.hasISAKMP != nil {
		d.catalog(vn, notify.ManualTransformType(p.hasISAKMP.name, name))
		good = false
	}
	for _, t := range p.transforms {
		switch t.protocol {
		case isakmp.ProtoESP:
			nh := 0
			for _, h := range t.hmacs {
				if h != hmacNone {
					nh++
				}
			}
			if len(t.ciphers) != 1 || nh > 1 {
				d.catalog(vn, notify.ManualCipherCount(p.name, name))
				good = false
			}
		case isakmp.ProtoAH:
			if len(t.hmacs) != 1 {
				d.catalog(vn, notify.ManualHMACCount(p.name, name))
				good = false
			}
		case isakmp.ProtoIPCOMP:
			if len(t.compression) != 1 {
				d.catalog(vn, notify.ManualCompressionCount(p.name, name))
				good = false
			}
		}
	}
	if !good {
		return
	}

	// The keys against the proposal (34, 35, 36, 26, 27, 38).
	if len(entries) != len(p.transforms) {
		d.catalog(mk, notify.ManualKeyCount(len(entries), name, len(p.transforms)))
	}
	m := &Manual{Proposal: p.built}
	tooFew, badSPI := false, false
	for _, t := range p.transforms {
		var e *manualEntry
		for _, x := range entries {
			if x.protocol == t.protocol {
				e = x
				break
			}
		}
		tr := t.ipsec[0]
		if e == nil {
			tooFew = true
			continue
		}
		sa := ManualSA{Protocol: t.protocol, Transform: tr}
		maxSPI := int64(1<<32 - 1)
		if t.protocol == isakmp.ProtoIPCOMP {
			maxSPI = 1<<16 - 1 // a CPI (RFC 3173, 2.2)
		}
		if e.spiIn < 256 || e.spiOut < 256 || e.spiIn > maxSPI || e.spiOut > maxSPI {
			badSPI = true
		}
		sa.SPIIn, sa.SPIOut = uint32(max(e.spiIn, 0)), uint32(max(e.spiOut, 0))
		needCipher := t.protocol == isakmp.ProtoESP && tr.CipherKeyBits > 0
		needAuth := tr.AuthKeyBits > 0
		for _, dir := range []string{"in", "out"} {
			ck, hk := e.keys["cipher-key-"+dir], e.keys["hmac-key-"+dir]
			if needCipher && ck == nil || needAuth && hk == nil {
				tooFew = true
			}
			if !needCipher && ck != nil {
				d.errorf(e.keyNodes["cipher-key-"+dir], "%s: cipher-key-%s given but %s transform %s takes no cipher key", where, dir, protocolWord(t.protocol), tr)
			}
			if !needAuth && hk != nil {
				d.errorf(e.keyNodes["hmac-key-"+dir], "%s: hmac-key-%s given but %s transform %s takes no HMAC key", where, dir, protocolWord(t.protocol), tr)
			}
			if needCipher && ck != nil {
				ck = d.keyLength(e.keyNodes["cipher-key-"+dir], name, "cipher-key-"+dir, ck, tr.CipherKeyBits, true)
			}
			if needAuth && hk != nil {
				hk = d.keyLength(e.keyNodes["hmac-key-"+dir], name, "hmac-key-"+dir, hk, tr.AuthKeyBits, false)
			}
			if dir == "in" {
				sa.CipherKeyIn, sa.AuthKeyIn = Secret(ck), Secret(hk)
			} else {
				sa.CipherKeyOut, sa.AuthKeyOut = Secret(ck), Secret(hk)
			}
		}
		m.SAs = append(m.SAs, sa)
	}
	for _, e := range entries {
		if e.protocol == 0 {
			continue
		}
		found := false
		for _, t := range p.transforms {
			found = found || t.protocol == e.protocol
		}
		if !found {
			d.errorf(e.node, "%s: manual-keys has an entry for %s, which proposal %q does not use", where, protocolWord(e.protocol), p.name)
		}
	}
	if tooFew {
		d.catalog(mk, notify.ManualTooFewKeys(name))
	}
	if badSPI {
		d.catalog(mk, notify.ManualSPI(name))
	}
	c.Manual = m
	c.ProposalList = &ProposalList{Name: ln, Proposals: []*Proposal{p.built}}
	c.Initiate = InitiateNever
}

// keyLength checks a manual key against the algorithm's length: shorter
// is message 27 (cipher) or 26 (HMAC); longer is cut with warning 38.
func (d *decoder) keyLength(n *yaml.Node, conn, key string, k []byte, bits int, cipher bool) []byte {
	got := len(k) * 8
	switch {
	case got < bits && cipher:
		d.catalog(n, notify.ManualCipherKeyShort(conn, got, bits))
	case got < bits:
		d.catalog(n, notify.ManualAuthKeyShort(conn))
	case got > bits:
		d.catalog(n, notify.ManualKeyTruncated(conn+"."+key, got, bits))
		return k[:bits/8]
	}
	return k
}

func (d *decoder) manualEntry(n *yaml.Node, where string) *manualEntry {
	e := &manualEntry{node: d.resolve(n), spiIn: -1, spiOut: -1, keys: map[string][]byte{}, keyNodes: map[string]*yaml.Node{}}
	d.mapping(n, where, manualKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "protocol":
			if w, ok := d.str(v, where+" protocol"); ok {
				p, known := protocolWords[w]
				if !known || p == isakmp.ProtoISAKMP {
					d.errorf(v, "%s protocol %q: it must be esp, ah or ipcomp", where, w)
				} else {
					e.protocol = p
				}
			}
		case "spi-in", "spi-out":
			if spi, ok := d.integer(v, where+" "+key, 0, 1<<32-1); ok {
				if key == "spi-in" {
					e.spiIn = spi
				} else {
					e.spiOut = spi
				}
			}
		default:
			if b, ok := d.hexKey(v, where+" "+key); ok {
				e.keys[key] = b
				e.keyNodes[key] = v
			}
		}
	})
	if e.protocol == 0 && e.node.Kind == yaml.MappingNode {
		d.errorf(e.node, "%s has no protocol", where)
	}
	return e
}
