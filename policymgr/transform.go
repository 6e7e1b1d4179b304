package policymgr

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/isakmp"
)

// transformDef is one entry of the transforms section, decoded and
// expanded into its alternatives.
type transformDef struct {
	name     string
	line     int
	ok       bool // decoded without error
	protocol isakmp.ProtocolID
	// the lists as written, validated
	ciphers, hashes, groups, hmacs, compression []string
	lifetime                                    time.Duration
	ike                                         []Phase1Transform
	ipsec                                       []IPsecTransform
}

var transformKeys = []string{"protocol", "ciphers", "hashes", "groups", "lifetime", "hmacs", "compression"}

// keysByProtocol says which algorithm keys a transform of each protocol
// takes (docs/policy-file.md, transforms).
var keysByProtocol = map[isakmp.ProtocolID][]string{
	isakmp.ProtoISAKMP: {"ciphers", "hashes", "groups", "lifetime"},
	isakmp.ProtoESP:    {"ciphers", "hmacs"},
	isakmp.ProtoAH:     {"hmacs"},
	isakmp.ProtoIPCOMP: {"compression"},
}

var protocolWords = map[string]isakmp.ProtocolID{
	"isakmp": isakmp.ProtoISAKMP, "esp": isakmp.ProtoESP, "ah": isakmp.ProtoAH, "ipcomp": isakmp.ProtoIPCOMP,
}

func protocolWord(p isakmp.ProtocolID) string {
	for w, q := range protocolWords {
		if q == p {
			return w
		}
	}
	return p.String()
}

// ikeLifetimeDefault is a phase 1 transform's lifetime when none is given.
const ikeLifetimeDefault = 8 * time.Hour

// MaxLifetime is the longest lifetime the policy file takes, phase 1 or 2;
// phase 1 also caps a peer's proposal at it.
const MaxLifetime = 30 * 24 * time.Hour

func (d *decoder) transforms(n *yaml.Node) map[string]*transformDef {
	defs := map[string]*transformDef{}
	d.mapping(n, "the transforms section", nil, func(name string, k, v *yaml.Node) {
		defs[name] = d.transform(name, k, v)
	})
	return defs
}

func (d *decoder) transform(name string, k, v *yaml.Node) *transformDef {
	t := &transformDef{name: name, line: k.Line, ok: true}
	where := fmt.Sprintf("transform %q", name)
	vals := map[string]*yaml.Node{}
	keyNodes := map[string]*yaml.Node{}
	if !d.mapping(v, where, transformKeys, func(key string, kn, vn *yaml.Node) {
		vals[key], keyNodes[key] = vn, kn
	}) {
		t.ok = false
		return t
	}
	pn, has := vals["protocol"]
	if !has {
		d.errorf(k, "%s has no protocol (isakmp, esp, ah or ipcomp)", where)
		t.ok = false
		return t
	}
	word, ok := d.str(pn, where+" protocol")
	if !ok {
		t.ok = false
		return t
	}
	if t.protocol, ok = protocolWords[word]; !ok {
		d.errorf(pn, "%s has protocol %q; it must be isakmp, esp, ah or ipcomp", where, word)
		t.ok = false
		return t
	}
	for _, key := range transformKeys[1:] {
		if _, given := vals[key]; given && !contains(keysByProtocol[t.protocol], key) {
			d.errorf(keyNodes[key], "key %q does not apply to %s of protocol %s", key, where, word)
			t.ok = false
		}
	}
	algs := func(key string, table map[string]bool, order []string) []string {
		vn, given := vals[key]
		if !given || !contains(keysByProtocol[t.protocol], key) {
			return nil
		}
		list, nodes, ok := d.list(vn, fmt.Sprintf("%s %s", where, key))
		if !ok {
			t.ok = false
			return nil
		}
		seen := map[string]bool{}
		var out []string
		for i, a := range list {
			switch {
			case !table[a]:
				d.errorf(nodes[i], "unknown %s %q in %s (known: %s)", key[:len(key)-1], a, where, names(order, table))
				t.ok = false
			case seen[a]:
				d.errorf(nodes[i], "%s lists %q twice in %s", where, a, key)
				t.ok = false
			default:
				seen[a] = true
				out = append(out, a)
			}
		}
		if len(list) == 0 {
			d.errorf(vn, "%s has an empty %s list", where, key)
			t.ok = false
		}
		return out
	}
	switch t.protocol {
	case isakmp.ProtoISAKMP:
		t.ciphers = algs("ciphers", keySet(ikeCiphers), ikeCipherOrder)
		t.hashes = algs("hashes", keySet(ikeHashes), ikeHashOrder)
		t.groups = algs("groups", keySet(dhGroups), groupOrder)
		t.lifetime = ikeLifetimeDefault
		if ln, given := vals["lifetime"]; given {
			if lt, ok := d.duration(ln, where+" lifetime", time.Second, MaxLifetime); ok {
				t.lifetime = lt
			} else {
				t.ok = false
			}
		}
		for _, key := range []string{"ciphers", "hashes", "groups"} {
			if _, given := vals[key]; !given {
				d.errorf(k, "%s of protocol isakmp has no %s", where, key)
				t.ok = false
			}
		}
	case isakmp.ProtoESP:
		t.ciphers = algs("ciphers", keySet(espCiphers), espCipherOrder)
		hm := keySet(hmacs)
		hm[hmacNone] = true
		t.hmacs = algs("hmacs", hm, hmacOrder)
		if _, given := vals["ciphers"]; !given {
			d.errorf(k, "%s of protocol esp has no ciphers", where)
			t.ok = false
		}
	case isakmp.ProtoAH:
		t.hmacs = algs("hmacs", keySet(hmacs), hmacOrder[1:])
		if _, given := vals["hmacs"]; !given {
			d.errorf(k, "%s of protocol ah has no hmacs", where)
			t.ok = false
		}
	case isakmp.ProtoIPCOMP:
		t.compression = algs("compression", keySet(compressions), compressionOrder)
		if _, given := vals["compression"]; !given {
			d.errorf(k, "%s of protocol ipcomp has no compression", where)
			t.ok = false
		}
	}
	for _, key := range []string{"ciphers", "hashes", "groups", "hmacs"} {
		var list []string
		switch key {
		case "ciphers":
			list = t.ciphers
		case "hashes":
			list = t.hashes
		case "groups":
			list = t.groups
		case "hmacs":
			list = t.hmacs
		}
		if weak := weakIn(list); len(weak) > 0 {
			d.warnf(vals[key], "%s %s: weak algorithm %s: it loads for old peers; prefer aes, sha256 or better, and modp2048 or an ecp group", where, key, strings.Join(weak, ", "))
		}
	}
	if t.ok {
		d.expand(t, k)
	}
	return t
}

func keySet[V any](m map[string]V) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}

// expand turns a transform's algorithm lists into its alternatives: for
// phase 1 the cross product ciphers × hashes × groups in the order listed;
// for ESP each cipher with each HMAC (a GCM cipher once, without one); for
// AH each HMAC; for IPComp each compression algorithm.
func (d *decoder) expand(t *transformDef, k *yaml.Node) {
	switch t.protocol {
	case isakmp.ProtoISAKMP:
		for _, c := range t.ciphers {
			for _, h := range t.hashes {
				for _, g := range t.groups {
					ci := ikeCiphers[c]
					t.ike = append(t.ike, Phase1Transform{
						Cipher: ci.alg, KeyLength: ci.keyLen, Hash: ikeHashes[h], Group: dhGroups[g],
						Lifetime: t.lifetime, CipherName: c, HashName: h, GroupName: g,
					})
				}
			}
		}
	case isakmp.ProtoESP:
		for _, c := range t.ciphers {
			ci := espCiphers[c]
			if ci.aead {
				t.ipsec = append(t.ipsec, IPsecTransform{
					Protocol: isakmp.ProtoESP, ID: uint8(ci.id), KeyLength: ci.keyLen,
					CipherKeyBits: ci.keyBits, CipherName: c, HMACName: hmacNone,
				})
				continue
			}
			n := 0
			for _, h := range t.hmacs {
				if h == hmacNone {
					continue
				}
				hm := hmacs[h]
				t.ipsec = append(t.ipsec, IPsecTransform{
					Protocol: isakmp.ProtoESP, ID: uint8(ci.id), KeyLength: ci.keyLen, Auth: hm.auth,
					CipherKeyBits: ci.keyBits, AuthKeyBits: hm.keyBits, CipherName: c, HMACName: h,
				})
				n++
			}
			if n == 0 {
				d.errorf(k, "transform %q: cipher %s is not a combined-mode (GCM) cipher and needs an HMAC other than none", t.name, c)
				t.ok = false
			}
		}
		if contains(t.hmacs, hmacNone) {
			gcm := false
			for _, c := range t.ciphers {
				gcm = gcm || espCiphers[c].aead
			}
			if !gcm {
				d.errorf(k, "transform %q: hmac none is only allowed with a GCM cipher", t.name)
				t.ok = false
			}
		}
	case isakmp.ProtoAH:
		for _, h := range t.hmacs {
			hm := hmacs[h]
			t.ipsec = append(t.ipsec, IPsecTransform{
				Protocol: isakmp.ProtoAH, ID: uint8(hm.ah), Auth: hm.auth, AuthKeyBits: hm.keyBits, HMACName: h,
			})
		}
	case isakmp.ProtoIPCOMP:
		for _, c := range t.compression {
			t.ipsec = append(t.ipsec, IPsecTransform{Protocol: isakmp.ProtoIPCOMP, ID: uint8(compressions[c]), CipherName: c})
		}
	}
}
