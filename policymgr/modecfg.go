package policymgr

import (
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/notify"
)

// Pool is one item of the pools section: the addresses Mode Config hands
// to road warriors (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2) and what
// goes with them (docs/policy-file.md, "Remote access").
type Pool struct {
	Name string
	Line int
	// Range is the addresses leased, one family; the network and
	// broadcast addresses of an IPv4 prefix (and the subnet-router
	// anycast address of an IPv6 one) are not handed out.
	Range Range
	// Prefix is the range as written when it was a prefix (invalid for
	// an a-b range): INTERNAL_IP4_NETMASK comes from it.
	Prefix netip.Prefix
	// DNS servers, the default domain (Unity DEF_DOMAIN), the networks
	// that go through the tunnel (IPv4: Unity SPLIT_INCLUDE; IPv6, of an
	// IPv6 pool: INTERNAL_IP6_SUBNET; none: everything), the IPv4
	// networks that stay outside it (Unity LOCAL_LAN, strongSwan's
	// split_exclude) and the banner shown to the user (Unity BANNER).
	DNS          []netip.Addr
	Domain       string
	SplitInclude []netip.Prefix
	SplitExclude []netip.Prefix
	Banner       string
}

// Size is how many addresses of the pool can be leased (at most
// MaxPoolSize).
func (p *Pool) Size() int {
	first, last := p.Leasable()
	n := new(big.Int).Sub(new(big.Int).SetBytes(as16(last)), new(big.Int).SetBytes(as16(first)))
	n.Add(n, big.NewInt(1))
	if !n.IsInt64() || n.Int64() > MaxPoolSize {
		return MaxPoolSize
	}
	return int(n.Int64())
}

// Leasable returns the first and last address a lease may take: the
// range, less a prefix's network and broadcast addresses (IPv4 prefixes
// shorter than /31) or its subnet-router anycast address (IPv6, RFC 4291,
// 2.6.1).
func (p *Pool) Leasable() (first, last netip.Addr) {
	first, last = p.Range.From, p.Range.To
	if !p.Prefix.IsValid() {
		return first, last
	}
	bits := p.Prefix.Addr().BitLen() - p.Prefix.Bits()
	if first.Is4() && bits >= 2 {
		return first.Next(), last.Prev()
	}
	if first.Is6() && bits >= 1 {
		return first.Next(), last
	}
	return first, last
}

func as16(a netip.Addr) []byte {
	b := a.As16()
	return b[:]
}

// MaxPoolSize bounds a pool: the lease store walks a pool to find a free
// address, and no gateway has more road warriors than this.
const MaxPoolSize = 1 << 20

// ModeConfig is a connection's mode-config key: a gateway names the pool
// its road warriors get their addresses from; a client asks its gateway
// for an address and installs what it gets.
type ModeConfig struct {
	// Pool is the pools item (gateway); PoolName its name.
	Pool     *Pool
	PoolName string
	// Request: this side is the client (mode-config.request).
	Request bool
	// Push (mode-config.push): a gateway sends its attributes unasked
	// (a SET, after XAUTH when the connection has it); a client sends no
	// REQUEST and waits for that SET, as strongSwan's swanctl.conf
	// `pull = no` does on either side.
	Push bool
	// Interface is where the client puts its address (mode-config
	// .interface); "" leaves it to the updown script.
	Interface string
	// DNS is what the client does with the DNS servers it is given.
	DNS DNSMode
	// ResolvConf is the file DNSInstall writes.
	ResolvConf string
}

// DNSMode is what a Mode Config client does with the DNS servers and
// domain its gateway gives (mode-config.dns).
type DNSMode uint8

const (
	// DNSHook: they go to the updown script (IKED_DNS4_1, ...), which
	// installs them as it likes (resolvconf, systemd-resolved).
	DNSHook DNSMode = iota
	// DNSInstall: iked adds them to resolv-conf itself, marked lines
	// removed when the ISAKMP SA goes (as strongSwan's resolve plugin
	// does), and tells the updown script too.
	DNSInstall
	// DNSNo: they are ignored.
	DNSNo
)

func (m DNSMode) String() string {
	switch m {
	case DNSHook:
		return "hook"
	case DNSInstall:
		return "install"
	case DNSNo:
		return "no"
	}
	return fmt.Sprintf("DNSMode(%d)", uint8(m))
}

var poolKeys = []string{"range", "dns", "domain", "split-include", "split-exclude", "banner"}

var modeConfigKeys = []string{"pool", "request", "push", "interface", "dns", "resolv-conf"}

// maxBanner bounds a pool's banner: it travels in one attribute, whose
// length is 16 bits, in a message that should not need fragments.
const maxBanner = 2048

// pools decodes the pools section.
func (d *decoder) pools(n *yaml.Node) map[string]*Pool {
	out := map[string]*Pool{}
	d.mapping(n, "the pools section", nil, func(name string, k, v *yaml.Node) {
		p := &Pool{Name: name, Line: k.Line}
		where := fmt.Sprintf("pool %q", name)
		vals := map[string]*yaml.Node{}
		d.mapping(v, where, poolKeys, func(key string, _, vn *yaml.Node) { vals[key] = vn })
		rn, given := vals["range"]
		if !given {
			d.errorf(k, "%s has no range", where)
		} else if t, ok := d.str(rn, where+" range"); ok {
			d.poolRange(p, rn, where, t)
		}
		if vn, given := vals["dns"]; given {
			list, nodes, _ := d.list(vn, where+" dns")
			for i, s := range list {
				a, err := netip.ParseAddr(strings.TrimSpace(s))
				if err != nil || a.Zone() != "" {
					d.errorf(nodes[i], "%s dns %q is not an IP address", where, s)
					continue
				}
				p.DNS = append(p.DNS, a.Unmap())
			}
		}
		if vn, given := vals["domain"]; given {
			if s, ok := d.str(vn, where+" domain"); ok {
				if !isHostname(s) {
					d.errorf(vn, "%s domain %q is not a DNS name", where, s)
				}
				p.Domain = s
			}
		}
		if vn, given := vals["split-include"]; given {
			p.SplitInclude = d.splitNets(vn, p, where, "split-include")
		}
		if vn, given := vals["split-exclude"]; given {
			p.SplitExclude = d.splitNets(vn, p, where, "split-exclude")
		}
		if vn, given := vals["banner"]; given {
			if s, ok := d.str(vn, where+" banner"); ok {
				if len(s) > maxBanner {
					d.errorf(vn, "%s banner is %d bytes long; at most %d", where, len(s), maxBanner)
				}
				p.Banner = s
			}
		}
		out[name] = p
	})
	d.overlappingPools(out)
	return out
}

// splitNets reads a pool's split-include or split-exclude list. Cisco
// Unity's SPLIT_INCLUDE and LOCAL_LAN carry IPv4 networks only; an IPv6
// pool's split-include networks go as INTERNAL_IP6_SUBNET
// (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2), which a client with an
// IPv4 address of the pool could not use.
func (d *decoder) splitNets(vn *yaml.Node, p *Pool, where, key string) []netip.Prefix {
	var out []netip.Prefix
	list, nodes, _ := d.list(vn, where+" "+key)
	for i, s := range list {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			if a, aerr := netip.ParseAddr(strings.TrimSpace(s)); aerr == nil {
				pfx, err = netip.PrefixFrom(a, a.BitLen()), nil
			}
		}
		switch {
		case err != nil || pfx.Addr().Zone() != "":
			d.errorf(nodes[i], "%s %s %q is not a network (a prefix such as 198.51.100.0/24)", where, key, s)
		case !pfx.Addr().Is4() && key == "split-exclude":
			d.errorf(nodes[i], "%s split-exclude %q: Cisco Unity split tunnelling (LOCAL_LAN) carries IPv4 networks only", where, s)
		case !pfx.Addr().Is4() && !p.Range.Is6():
			d.errorf(nodes[i], "%s split-include %q: IPv6 networks go to clients of an IPv6 pool (INTERNAL_IP6_SUBNET); Cisco Unity split tunnelling carries IPv4 networks only", where, s)
		case pfx.Bits() == 0:
			d.errorf(nodes[i], "%s %s %q is everything: leave %s out instead", where, key, s, key)
		default:
			if pfx != pfx.Masked() {
				d.warnf(nodes[i], "%s %s %q has host bits set; it is %s", where, key, s, pfx.Masked())
			}
			out = append(out, pfx.Masked())
		}
	}
	return out
}

// poolRange reads a pool's range: a prefix, or a-b, of one family.
func (d *decoder) poolRange(p *Pool, n *yaml.Node, where, text string) {
	text = strings.TrimSpace(text)
	if pfx, err := netip.ParsePrefix(text); err == nil {
		if pfx.Addr().Zone() != "" {
			d.errorf(n, "%s range %q has a zone", where, text)
			return
		}
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-(pfx.Addr().BitLen()-pfx.Addr().Unmap().BitLen()))
		if pfx != pfx.Masked() {
			d.warnf(n, "%s range %q has host bits set; it is %s", where, text, pfx.Masked())
		}
		p.Prefix = pfx.Masked()
		p.Range = RangeOf(p.Prefix)
	} else if from, to, ok := strings.Cut(text, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(from))
		b, err2 := netip.ParseAddr(strings.TrimSpace(to))
		switch {
		case err1 != nil || err2 != nil || a.Zone() != "" || b.Zone() != "":
			d.errorf(n, "%s range %q: it must be a prefix or two addresses a-b", where, text)
			return
		case a.Unmap().BitLen() != b.Unmap().BitLen():
			d.errorf(n, "%s range %q mixes IPv4 and IPv6", where, text)
			return
		case b.Unmap().Less(a.Unmap()):
			d.errorf(n, "%s range %q ends before it starts", where, text)
			return
		}
		p.Range = Range{From: a.Unmap(), To: b.Unmap()}
	} else {
		d.errorf(n, "%s range %q: it must be a prefix or two addresses a-b", where, text)
		return
	}
	first, last := p.Leasable()
	if last.Less(first) {
		d.errorf(n, "%s range %s leaves no address to lease", where, text)
		p.Range = Range{}
		return
	}
	n2 := new(big.Int).Sub(new(big.Int).SetBytes(as16(last)), new(big.Int).SetBytes(as16(first)))
	if n2.Cmp(big.NewInt(MaxPoolSize-1)) >= 0 {
		d.errorf(n, "%s range %s is too big: a pool holds at most %d addresses (an IPv6 pool a /108 at most)", where, text, MaxPoolSize)
		p.Range = Range{}
	}
}

// overlappingPools: two pools that share addresses would lease one
// address twice.
func (d *decoder) overlappingPools(pools map[string]*Pool) {
	var list []*Pool
	for _, p := range pools {
		if !p.Range.IsAny() {
			list = append(list, p)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Line < list[j].Line })
	for i, a := range list {
		for _, b := range list[:i] {
			if r, overlap := a.Range.Intersect(b.Range); overlap {
				d.add(a.Line, plain(a.Line, "pool %q overlaps pool %q (%s): an address would be leased twice", a.Name, b.Name, r))
			}
		}
	}
}

// modeConfig decodes a connection's mode-config key.
func (d *decoder) modeConfig(cd *connDef, pools map[string]*Pool) {
	vn, given := cd.keys["mode-config"]
	if !given {
		return
	}
	c := cd.conn
	where := fmt.Sprintf("connection %q mode-config", c.Name)
	mc := &ModeConfig{ResolvConf: "/etc/resolv.conf"}
	vals := map[string]*yaml.Node{}
	d.mapping(vn, where, modeConfigKeys, func(key string, _, v *yaml.Node) { vals[key] = v })
	if v, given := vals["request"]; given {
		if b, ok := d.boolean(v, where+" request"); ok {
			mc.Request = b
		}
	}
	if v, given := vals["push"]; given {
		if b, ok := d.boolean(v, where+" push"); ok {
			mc.Push = b
		}
	}
	if v, given := vals["pool"]; given {
		if name, ok := d.str(v, where+" pool"); ok {
			mc.PoolName = name
			if p, defined := pools[name]; defined {
				mc.Pool = p
			} else {
				d.errorf(v, "%s names pool %q, which the pools section does not define", where, name)
			}
		}
		if mc.Request {
			d.errorf(v, "%s has both pool (a gateway's) and request: true (a client's)", where)
		}
	} else if !mc.Request {
		d.errorf(vn, "%s needs pool: NAME (a gateway) or request: true (a client)", where)
	}
	clientOnly := func(key string) *yaml.Node {
		v, given := vals[key]
		if given && !mc.Request {
			d.errorf(v, "%s %s is for a client (request: true)", where, key)
		}
		return v
	}
	if v := clientOnly("interface"); v != nil {
		if s, ok := d.str(v, where+" interface"); ok {
			if s == "" || len(s) > 15 || strings.ContainsAny(s, "/ \t") {
				d.errorf(v, "%s interface %q is not a network interface name", where, s)
			}
			mc.Interface = s
		}
	}
	if v := clientOnly("dns"); v != nil {
		if s, ok := d.str(v, where+" dns"); ok {
			switch s {
			case "hook":
				mc.DNS = DNSHook
			case "install":
				mc.DNS = DNSInstall
			case "no":
				mc.DNS = DNSNo
			default:
				d.errorf(v, "%s dns %q: it must be hook, install or no", where, s)
			}
		}
	}
	if v := clientOnly("resolv-conf"); v != nil {
		if s, ok := d.str(v, where+" resolv-conf"); ok {
			mc.ResolvConf = d.path(s)
		}
	}
	c.ModeConfig = mc
	if c.IKE == nil {
		d.errorf(cd.keyAt["mode-config"], "%s: a manually keyed connection has no ISAKMP SA to configure", where)
		return
	}
	if !c.Tunnel {
		d.errorf(cd.keyAt["mode-config"], "%s: Mode Config hands out tunnel addresses; the connection is in transport mode (give local-gw or remote-gw)", where)
		return
	}
	if mc.Pool != nil && !mc.Pool.Range.IsAny() {
		p := mc.Pool
		if !c.RoadWarrior() {
			d.warnf(cd.keyAt["mode-config"], "%s: pool %q on a connection with a fixed remote-gw: one peer gets one address of it", where, p.Name)
		}
		if r, overlap := c.Local.Addr.Intersect(p.Range); overlap && !c.Local.Addr.IsAny() {
			d.errorf(cd.keyAt["mode-config"], "%s: pool %q overlaps the local-address %s (%s): a road warrior would be given an address of the networks behind this gateway", where, p.Name, c.Local.Addr, r)
		}
		if !c.Remote.Addr.IsAny() && !c.Remote.Addr.Covers(p.Range) {
			d.errorf(cd.keyAt["mode-config"], "%s: pool %q (%s) is not within the remote-address %s: its leases could not be the remote selector", where, p.Name, p.Range, c.Remote.Addr)
		}
		if c.SAPerHost {
			d.warnf(cd.keyAt["mode-config"], "%s: sa-per-host changes nothing here: a road warrior with a lease has one address", where)
		}
	}
}

// unusedPools warns of a pool that no connection names: a mistyped name
// on the connection would be an error there, so this is a leftover.
func (d *decoder) unusedPools(pools map[string]*Pool, conns []*connDef) {
	used := map[string]bool{}
	for _, cd := range conns {
		if mc := cd.conn.ModeConfig; mc != nil {
			used[mc.PoolName] = true
		}
	}
	var names []string
	for name := range pools {
		if !used[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := pools[name]
		d.add(p.Line, plainAt(notify.LevelWarning, p.Line, "pool %q is used by no connection (mode-config: {pool: %s})", name, name))
	}
}
