package policymgr

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

var connectionKeys = []string{"local-address", "remote-address", "protocol", "local-port", "remote-port",
	"local-gw", "remote-gw", "initiate", "sa-per-host", "ike", "proposal-list", "pfs", "lifetime",
	"lifetime-kbytes", "manual-keys", "updown", "updown-timeout", "sha256-96", "keying-tries", "rekey",
	"dpd", "close-action", "fragmentation", "mode-config"}

// rekeyKeys are those of a connection's rekey mapping.
var rekeyKeys = []string{"margin", "jitter"}

var ikeKeys = []string{"mode", "transforms", "auth", "psk", "psk-file", "certificate", "ca", "local-id", "remote-id",
	"send-cert", "xauth", "xauth-user", "xauth-password-file"}

// phase2LifetimeDefault is a connection's Quick Mode lifetime when none is given.
const phase2LifetimeDefault = time.Hour

// sections is what the connections refer to by name.
type sections struct {
	transforms map[string]*transformDef
	proposals  map[string]*proposalDef
	lists      map[string]*listDef
	certs      map[string]*certDef
	pools      map[string]*Pool
}

// connDef is a connection being decoded: the model and what is left to
// check once the certificate manager has loaded.
type connDef struct {
	conn    *Connection
	skip    bool // message 18: left out of the policy
	node    *yaml.Node
	certKey *yaml.Node
	caKey   *yaml.Node            // ike.ca, checked once the certificates loaded
	keys    map[string]*yaml.Node // value nodes by key
	keyAt   map[string]*yaml.Node // key nodes by key
	// dpdDelayAt, dpdTimeoutAt and dpdActionAt are the dpd mapping's
	// values, nil when not given (actions.go).
	dpdDelayAt, dpdTimeoutAt, dpdActionAt *yaml.Node
}

func (d *decoder) connections(n *yaml.Node, s *sections) []*connDef {
	var out []*connDef
	d.mapping(n, "the connections section", nil, func(name string, k, v *yaml.Node) {
		out = append(out, d.connection(name, k, v, s))
	})
	return out
}

func (d *decoder) connection(name string, k, v *yaml.Node, s *sections) *connDef {
	c := &Connection{Name: name, Line: k.Line, Lifetime: phase2LifetimeDefault}
	cd := &connDef{conn: c, node: k, keys: map[string]*yaml.Node{}, keyAt: map[string]*yaml.Node{}}
	where := fmt.Sprintf("connection %q", name)
	d.mapping(v, where, connectionKeys, func(key string, kn, vn *yaml.Node) {
		cd.keys[key], cd.keyAt[key] = vn, kn
	})
	at := func(key string) *yaml.Node {
		if n := cd.keyAt[key]; n != nil {
			return n
		}
		return k
	}

	// Selectors (docs/policy-file.md, "Address forms"; messages 9-12, 18, 22).
	addr := func(key string, decodeMsg notify.Message, typeMsg func(int, string) notify.Message) (Range, bool) {
		vn, given := cd.keys[key]
		if !given {
			return Range{}, true
		}
		text, ok := d.scalar(vn, where+" "+key)
		if !ok {
			return Range{}, false
		}
		r, form := parseAddress(text)
		switch form {
		case formBadText:
			d.catalog(vn, decodeMsg)
			return Range{}, false
		case formFQDN:
			d.catalog(vn, typeMsg(int(isakmp.IDFQDN), name))
			return Range{}, false
		case formUser:
			d.catalog(vn, typeMsg(int(isakmp.IDUserFQDN), name))
			return Range{}, false
		}
		return r, true
	}
	local, okL := addr("local-address", notify.SPDLocalAddressDecode(name), notify.SPDLocalAddressType)
	remote, okR := addr("remote-address", notify.SPDRemoteAddressDecode(name), notify.SPDRemoteAddressType)
	c.Local.Addr, c.Remote.Addr = local, remote
	if okL && okR && !local.IsAny() && !remote.IsAny() && local.Is4() != remote.Is4() {
		d.catalog(at("remote-address"), notify.SPDMixedFamilies(name))
		cd.skip = true
	}

	protoText := "any"
	if vn, given := cd.keys["protocol"]; given {
		if t, ok := d.str(vn, where+" protocol"); ok {
			protoText = t
			if p, ok := parseProto(t); ok {
				c.Local.Proto, c.Remote.Proto = p, p
			} else {
				d.errorf(vn, "%s protocol %q: it must be any, tcp, udp, icmp or a number 0-255", where, t)
			}
		}
	}
	for _, side := range []struct {
		key string
		sel *Selector
	}{{"local-port", &c.Local}, {"remote-port", &c.Remote}} {
		if vn, given := cd.keys[side.key]; given {
			if p, ok := d.integer(vn, where+" "+side.key, 0, 65535); ok {
				side.sel.Port = uint16(p)
			}
		}
	}
	if (c.Local.Port != 0 || c.Remote.Port != 0) && c.Local.Proto != 6 && c.Local.Proto != 17 {
		at := cd.keyAt["local-port"]
		if c.Local.Port == 0 {
			at = cd.keyAt["remote-port"]
		}
		d.catalog(at, notify.SPDPortsIgnored(protoText, name))
		c.Local.Port, c.Remote.Port = 0, 0
	}

	// Gateways (messages 16, 17).
	if vn, given := cd.keys["local-gw"]; given {
		c.Tunnel = true
		if t, ok := d.scalar(vn, where+" local-gw"); ok {
			a, err := netip.ParseAddr(strings.TrimSpace(t))
			if err != nil || a.Zone() != "" {
				d.catalog(vn, notify.SPDInvalidLocalGW(name))
			} else {
				c.LocalGW = a.Unmap()
			}
		}
	}
	if vn, given := cd.keys["remote-gw"]; given {
		c.Tunnel = true
		if t, ok := d.scalar(vn, where+" remote-gw"); ok {
			t = strings.TrimSpace(t)
			if a, err := netip.ParseAddr(t); err == nil && a.Zone() == "" {
				c.RemoteGW = a.Unmap()
			} else if t == "" || t == "any" {
				// a road warrior connection: any peer gateway
			} else if isHostname(t) {
				c.RemoteGWName = t
			} else {
				d.catalog(vn, notify.SPDInvalidRemoteGW(name))
			}
		}
	}
	if c.LocalGW.IsValid() && c.RemoteGW.IsValid() && c.LocalGW.Is4() != c.RemoteGW.Is4() {
		d.errorf(at("remote-gw"), "%s: local-gw %s and remote-gw %s are of different IP versions", where, c.LocalGW, c.RemoteGW)
	}

	if vn, given := cd.keys["sa-per-host"]; given {
		if b, ok := d.boolean(vn, where+" sa-per-host"); ok {
			c.SAPerHost = b
		}
	}
	if vn, given := cd.keys["lifetime"]; given {
		if t, ok := d.duration(vn, where+" lifetime", time.Second, MaxLifetime); ok {
			c.Lifetime = t
		}
	}
	if vn, given := cd.keys["lifetime-kbytes"]; given {
		if n, ok := d.integer(vn, where+" lifetime-kbytes", 0, 1<<42); ok {
			c.LifetimeKBytes = uint64(n)
		}
	}
	d.updown(cd, where)
	c.KeyingTries = 1
	if vn, given := cd.keys["keying-tries"]; given {
		if vn.Kind == yaml.ScalarNode && vn.Value == "forever" {
			c.KeyingTries = 0
		} else if n, ok := d.integer(vn, where+" keying-tries", 1, 1000); ok {
			c.KeyingTries = int(n)
		}
	}
	if vn, given := cd.keys["rekey"]; given {
		d.mapping(vn, where+" rekey", rekeyKeys, func(key string, _, v *yaml.Node) {
			if t, ok := d.duration(v, where+" rekey "+key, time.Second, 30*24*time.Hour); ok {
				if key == "margin" {
					c.RekeyMargin = t
				} else {
					c.RekeyJitter = t
				}
			}
		})
		if c.RekeyMargin+c.RekeyJitter >= c.Lifetime {
			d.errorf(vn, "%s rekey: margin %v and jitter %v leave nothing of the lifetime %v", where, c.RekeyMargin, c.RekeyJitter, c.Lifetime)
		}
	}
	if vn, given := cd.keys["sha256-96"]; given {
		if b, ok := d.boolean(vn, where+" sha256-96"); ok {
			c.SHA256Trunc96 = b
		}
	}
	if vn, given := cd.keys["pfs"]; given {
		if g, ok := d.str(vn, where+" pfs"); ok && g != "none" {
			if grp, known := dhGroups[g]; known {
				c.PFS = grp
				if weak := weakIn([]string{g}); len(weak) > 0 {
					d.warnf(vn, "%s pfs: weak algorithm %s: it loads for old peers; prefer modp2048 or an ecp group", where, weak[0])
				}
			} else {
				d.errorf(vn, "%s pfs %q: it must be none or a group (%s)", where, g, names(groupOrder, dhGroups))
			}
		}
	}

	d.connActions(cd, where)
	d.fragmentation(cd, where)

	_, hasIKE := cd.keys["ike"]
	_, hasManual := cd.keys["manual-keys"]
	switch {
	case hasIKE && hasManual:
		d.errorf(at("manual-keys"), "%s has both ike and manual-keys: a connection is negotiated or keyed manually, not both", where)
	case hasManual:
		d.manual(cd, s)
	case hasIKE:
		d.ike(cd, s)
		d.initiate(cd)
		if vn, given := cd.keys["proposal-list"]; given {
			if ln, ok := d.str(vn, where+" proposal-list"); ok {
				if l, defined := s.lists[ln]; defined {
					c.ProposalList = d.buildList(l, name, vn)
				} else {
					d.errorf(vn, "%s names proposal list %q, which the proposal-lists section does not define", where, ln)
				}
			}
		} else {
			d.errorf(k, "%s has no proposal-list: phase 2 needs one", where)
		}
	default:
		d.errorf(k, "%s has neither an ike section nor manual-keys", where)
	}
	d.checkActions(cd, where)
	d.modeConfig(cd, s.pools)
	return cd
}

// parseProto reads the protocol key: any, tcp, udp, icmp, or a number.
func parseProto(s string) (uint8, bool) {
	switch s {
	case "any":
		return 0, true
	case "icmp":
		return 1, true
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "ipv6-icmp", "icmpv6":
		return 58, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return uint8(n), err == nil
}

func (d *decoder) initiate(cd *connDef) {
	c := cd.conn
	where := fmt.Sprintf("connection %q", c.Name)
	knownPeer := c.RemoteGW.IsValid() || c.RemoteGWName != "" || (!c.Tunnel && c.Remote.Addr.IsHost())
	c.Initiate = InitiateOnDemand
	if !knownPeer {
		c.Initiate = InitiateNever
	}
	vn, given := cd.keys["initiate"]
	if !given {
		return
	}
	t, ok := d.str(vn, where+" initiate")
	if !ok {
		return
	}
	switch t {
	case "on-demand":
		c.Initiate = InitiateOnDemand
	case "start":
		c.Initiate = InitiateStart
	case "never":
		c.Initiate = InitiateNever
		return
	default:
		d.errorf(vn, "%s initiate %q: it must be on-demand, start or never", where, t)
		return
	}
	if !knownPeer {
		d.errorf(vn, "%s initiate %s: the connection has no peer address to initiate to (give remote-gw, or a single remote-address in transport mode), or use initiate: never", where, t)
	}
}

// ike decodes a connection's ike section.
func (d *decoder) ike(cd *connDef, s *sections) {
	c := cd.conn
	where := fmt.Sprintf("connection %q ike", c.Name)
	p := &Phase1{Mode: isakmp.ExchangeMain}
	c.IKE = p
	vals := map[string]*yaml.Node{}
	d.mapping(cd.keys["ike"], where, ikeKeys, func(key string, _, v *yaml.Node) { vals[key] = v })
	ikeAt := cd.keyAt["ike"]

	if vn, given := vals["mode"]; given {
		if m, ok := d.str(vn, where+" mode"); ok {
			switch m {
			case "main":
			case "aggressive":
				p.Mode = isakmp.ExchangeAggressive
			default:
				d.errorf(vn, "%s mode %q: it must be main or aggressive", where, m)
			}
		}
	}
	if vn, given := vals["transforms"]; given {
		list, nodes, ok := d.list(vn, where+" transforms")
		if ok && len(list) == 0 {
			d.errorf(vn, "%s transforms is empty", where)
		}
		for i, tn := range list {
			t, defined := s.transforms[tn]
			switch {
			case !defined:
				d.errorf(nodes[i], "%s names transform %q, which the transforms section does not define", where, tn)
			case !t.ok:
			case t.protocol != isakmp.ProtoISAKMP:
				d.errorf(nodes[i], "%s names transform %q of protocol %s; ike.transforms takes isakmp transforms", where, tn, protocolWord(t.protocol))
			default:
				p.Transforms = append(p.Transforms, t.ike...)
			}
		}
	} else {
		d.errorf(ikeAt, "%s has no transforms", where)
	}

	if vn, given := vals["psk"]; given {
		if psk, ok := d.str(vn, where+" psk"); ok && d.inlineSecretOK(vn, where+" psk") {
			p.PSK = Secret(psk)
		}
	}
	if vn, given := vals["psk-file"]; given {
		if _, both := vals["psk"]; both {
			d.errorf(vn, "%s has both psk and psk-file", where)
		} else if f, ok := d.str(vn, where+" psk-file"); ok {
			p.PSK = d.pskFile(vn, where, f)
		}
	}
	// certificate and ca name certificates items.
	certRef := func(key string) (string, *yaml.Node) {
		vn, given := vals[key]
		if !given {
			return "", nil
		}
		cn, ok := d.str(vn, where+" "+key)
		if !ok {
			return "", nil
		}
		if _, defined := s.certs[cn]; !defined {
			d.errorf(vn, "%s %s names certificate %q, which the certificates section does not define", where, key, cn)
			return "", nil
		}
		return cn, vn
	}
	p.Certificate, cd.certKey = certRef("certificate")
	p.CA, cd.caKey = certRef("ca")
	_, hasPSK := vals["psk"]
	_, hasPSKFile := vals["psk-file"]
	_, hasCert := vals["certificate"]
	if vn, given := vals["auth"]; given {
		if a, ok := d.str(vn, where+" auth"); ok {
			switch a {
			case "psk":
				p.Auth = AuthPSK
			case "certificate":
				p.Auth = AuthCertificate
			default:
				d.errorf(vn, "%s auth %q: it must be psk or certificate", where, a)
			}
		}
	} else if hasCert && !hasPSK && !hasPSKFile {
		p.Auth = AuthCertificate
	} else if !hasCert && (hasPSK || hasPSKFile) {
		p.Auth = AuthPSK
	} else {
		d.errorf(ikeAt, "%s has no auth (psk or certificate)", where)
	}
	switch p.Auth {
	case AuthPSK:
		p.AuthMethod = isakmp.AuthPSK
		if !hasPSK && !hasPSKFile {
			d.errorf(ikeAt, "%s: auth psk needs psk or psk-file", where)
		}
		if hasCert {
			d.errorf(vals["certificate"], "%s: certificate is given but auth is psk", where)
		}
	case AuthCertificate:
		if !hasCert {
			d.errorf(ikeAt, "%s: auth certificate needs a certificate", where)
		}
		if hasPSK || hasPSKFile {
			d.errorf(ikeAt, "%s: a psk is given but auth is certificate", where)
		}
	}
	if vn, given := vals["send-cert"]; given {
		d.sendCert(vn, where, p)
	}
	if _, hasCA := vals["ca"]; hasCA && p.Auth == AuthPSK {
		d.errorf(vals["ca"], "%s: ca limits the CAs that certify the peer; it needs auth certificate", where)
	}
	if p.Mode == isakmp.ExchangeAggressive && p.Auth == AuthPSK {
		at := vals["mode"]
		d.warnf(at, "%s: Aggressive Mode with a pre-shared key: the responder's hash of the key goes out before the initiator is authenticated, so anyone who starts an exchange can try to guess the key offline; use main mode, or certificates", where)
	}
	for _, key := range []string{"local-id", "remote-id"} {
		vn, given := vals[key]
		if !given {
			continue
		}
		t, ok := d.str(vn, where+" "+key)
		if !ok {
			continue
		}
		id, err := parseID(t)
		if err != nil {
			d.errorf(vn, "%s %s: %v", where, key, err)
			continue
		}
		if key == "local-id" {
			p.LocalID = id
		} else {
			p.RemoteID = id
		}
	}
	d.xauth(vals, where, p)
	if p.LocalID.IsZero() && p.Auth == AuthPSK {
		switch {
		case c.LocalGW.IsValid():
			p.LocalID = idFromAddr(c.LocalGW)
		case !c.Tunnel && c.Local.Addr.IsHost():
			p.LocalID = idFromAddr(c.Local.Addr.From)
		}
	}
}

// pskFile reads a psk-file, refusing one that group or others may read:
// the key would not be secret.
func (d *decoder) pskFile(n *yaml.Node, where, name string) Secret {
	return d.secretFile(n, where+" psk-file", name)
}

// secretFile reads a file that holds a secret (what names its key in
// messages), refusing one that group or others may read or that belongs
// to another user than root and the daemon's.
func (d *decoder) secretFile(n *yaml.Node, what, name string) Secret {
	path := d.path(name)
	fi, err := os.Stat(path)
	if err != nil {
		d.errorf(n, "%s %s: %v", what, path, err)
		return nil
	}
	if !fi.Mode().IsRegular() {
		d.errorf(n, "%s %s is not a regular file", what, path)
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		d.errorf(n, "%s %s has mode %04o: group or others may read it; make it readable by its owner only (chmod 600)", what, path, uint32(perm))
		return nil
	}
	if err := pki.CheckOwner(path, fi); err != nil {
		d.errorf(n, "%s %v", what, err)
		return nil
	}
	if fi.Size() > 64<<10 {
		d.errorf(n, "%s %s is larger than 64 KiB", what, path)
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		d.errorf(n, "%s %s: %v", what, path, err)
		return nil
	}
	secret := secretFromFile(b)
	if len(secret) == 0 {
		d.errorf(n, "%s %s is empty", what, path)
		return nil
	}
	return secret
}

// secretFromFile returns the key a psk-file holds (its bytes without the
// trailing line end) in a buffer of its own, and wipes what was read, so
// that the key lives on only in the policy.
func secretFromFile(b []byte) Secret {
	defer clear(b)
	return Secret(bytes.Clone(bytes.TrimRight(b, "\r\n")))
}

// inlineSecretOK refuses a key written in the policy file itself when the
// file may be read by group or others, or belongs to a user other than
// root and the daemon's: the same rule as psk-file. A policy parsed from
// memory (no file) has nothing to check.
func (d *decoder) inlineSecretOK(n *yaml.Node, what string) bool {
	if d.info == nil {
		return true
	}
	if perm := d.info.Mode().Perm(); perm&0o077 != 0 {
		d.errorf(n, "%s: the policy file has mode %04o: group or others may read the key in it; make the file readable by its owner only (chmod 600), or move the key to a psk-file", what, uint32(perm))
		return false
	}
	if err := pki.CheckOwner(d.file, d.info); err != nil {
		d.errorf(n, "%s: the policy file %v", what, err)
		return false
	}
	return true
}

// updownTimeoutDefault is how long an updown script may run when the
// connection's updown-timeout is not given.
const updownTimeoutDefault = 30 * time.Second

// updown reads the connection's updown script and its timeout.
func (d *decoder) updown(cd *connDef, where string) {
	c := cd.conn
	c.UpdownTimeout = updownTimeoutDefault
	if vn, given := cd.keys["updown"]; given {
		if s, ok := d.str(vn, where+" updown"); ok {
			if !filepath.IsAbs(s) {
				d.errorf(vn, "%s updown %q: the script must be given by its absolute path", where, s)
			} else {
				c.Updown = s
			}
		}
	}
	if vn, given := cd.keys["updown-timeout"]; given {
		if t, ok := d.duration(vn, where+" updown-timeout", 100*time.Millisecond, time.Hour); ok {
			c.UpdownTimeout = t
		}
	}
}

// xauth decodes ike.xauth and the client's user name and password file
// (draft-beaulieu-ike-xauth-02): a server asks for them after phase 1, a
// client gives them.
func (d *decoder) xauth(vals map[string]*yaml.Node, where string, p *Phase1) {
	if vn, given := vals["xauth"]; given {
		if r, ok := d.str(vn, where+" xauth"); ok {
			switch r {
			case "server":
				p.XAuth = XAuthServer
			case "client":
				p.XAuth = XAuthClient
			default:
				d.errorf(vn, "%s xauth %q: it must be server or client", where, r)
			}
		}
	}
	userAt, hasUser := vals["xauth-user"]
	passAt, hasPass := vals["xauth-password-file"]
	if p.XAuth != XAuthClient {
		for _, n := range []*yaml.Node{userAt, passAt} {
			if n != nil {
				d.errorf(n, "%s: xauth-user and xauth-password-file are a client's; they need xauth: client", where)
				return
			}
		}
		return
	}
	if !hasUser || !hasPass {
		d.errorf(vals["xauth"], "%s: xauth client needs xauth-user and xauth-password-file", where)
		return
	}
	if u, ok := d.str(userAt, where+" xauth-user"); ok {
		if u == "" {
			d.errorf(userAt, "%s xauth-user is empty", where)
		}
		p.XAuthUser = u
	}
	if f, ok := d.str(passAt, where+" xauth-password-file"); ok {
		p.XAuthPassword = d.secretFile(passAt, where+" xauth-password-file", f)
	}
}
