package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config is one load run.
type Config struct {
	// Targets are the responders; every SA goes to one of them in turn.
	Targets []netip.Addr
	// Port is the responders' IKE port.
	Port uint16
	// Sources are the addresses the SAs come from; each is bound Ports
	// times, on SourcePort, SourcePort+1, ...: one initiating daemon per
	// address and port (a client behind a NAT, to the responder).
	Sources    []netip.Addr
	SourcePort uint16
	Ports      int
	// Total SAs to begin (0: until Duration ends), at most Concurrency
	// unfinished at a time, at most Rate begun per second (0: no limit).
	Total       int
	Concurrency int
	Rate        float64
	Duration    time.Duration
	// Mode is main or aggressive; Auth psk or certificate.
	Mode, Auth string
	PSK        string
	// Cert, Key and CA are files for certificate authentication.
	Cert, Key, CA     string
	LocalID, RemoteID string
	// Ciphers, Hashes and Groups are the phase 1 transform's lists
	// (docs/policy-file.md, transforms).
	Ciphers, Hashes, Groups []string
	// QuickMode negotiates one IPsec SA bundle on each ISAKMP SA; an SA
	// counts as done once it is installed.
	QuickMode          bool
	ESPCiphers, ESPMAC []string
	PFS                string
	// Retransmit and Tries are the daemons' retransmission: the first
	// wait, doubled each try.
	Retransmit time.Duration
	Tries      int
	// HalfOpen sends only each exchange's first message (MM1, AM1, or its
	// retransmissions): the responder answers and holds a half-open SA
	// until its own timeout, as under a flood of spoofed first messages;
	// ours count as timed out.
	HalfOpen bool
	// Delete deletes each SA (our Delete to the peer) once it is done,
	// so that a soak run holds about Concurrency SAs, not all of them.
	Delete bool
	// InitialContact sends INITIAL-CONTACT in phase 1 as a peer that
	// connects for the first time does (RFC 2407, 4.6.3.3; charon sends it
	// then): the responder looks for the stale SAs of that peer.
	InitialContact bool
	// Hold keeps the SAs this long after the last one finished; at the
	// end the daemons stop, deleting theirs (our Deletes to the peer).
	Hold time.Duration
	// Allow are the prefixes targets may be in; others are refused.
	Allow []netip.Prefix
	// Netns, when set, is the named network namespace to bind in; Dev,
	// when set, is the interface there that the source addresses are
	// added to (and removed from at the end).
	Netns, Dev string
	// Workers is each daemon's worker pool (0: the number of CPUs).
	Workers int
}

// defaultAllow are the ranges ikeload loads without being told more:
// the documentation ranges (RFC 5737, RFC 3849) and loopback.
var defaultAllow = []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "127.0.0.0/8", "::1/128"}

// check refuses what cannot run: targets outside Allow among others.
func (c *Config) check() error {
	if len(c.Targets) == 0 {
		return fmt.Errorf("no target: give -target")
	}
	for _, t := range c.Targets {
		if !allowed(c.Allow, t) {
			return fmt.Errorf("target %s is outside the allowed ranges %v (-allow)", t, c.Allow)
		}
	}
	if len(c.Sources) == 0 {
		return fmt.Errorf("no source address")
	}
	for _, s := range c.Sources {
		if s.Is4() != c.Targets[0].Is4() {
			return fmt.Errorf("source %s and target %s are of different IP versions", s, c.Targets[0])
		}
	}
	for _, t := range c.Targets {
		if t.Is4() != c.Targets[0].Is4() {
			return fmt.Errorf("targets of both IP versions: %s and %s", c.Targets[0], t)
		}
	}
	if c.Ports < 1 || int(c.SourcePort)+c.Ports-1 > 65535 || c.SourcePort == 0 {
		return fmt.Errorf("source ports %d+%d do not fit 1-65535", c.SourcePort, c.Ports)
	}
	if c.Total < 0 || (c.Total == 0 && c.Duration <= 0) {
		return fmt.Errorf("give -n (SAs) or -duration")
	}
	if c.Concurrency < 1 {
		return fmt.Errorf("-c must be at least 1")
	}
	if c.Rate < 0 {
		return fmt.Errorf("-rate must not be negative")
	}
	switch c.Mode {
	case "main", "aggressive":
	default:
		return fmt.Errorf("-mode %q: main or aggressive", c.Mode)
	}
	switch c.Auth {
	case "psk":
		if c.PSK == "" {
			return fmt.Errorf("-auth psk needs -psk")
		}
	case "certificate":
		if c.Cert == "" || c.Key == "" || c.CA == "" {
			return fmt.Errorf("-auth certificate needs -cert, -key and -ca")
		}
	default:
		return fmt.Errorf("-auth %q: psk or certificate", c.Auth)
	}
	return nil
}

func allowed(allow []netip.Prefix, a netip.Addr) bool {
	for _, p := range allow {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// Target names the connection towards Targets[i] in every daemon's policy.
func connName(i int) string { return fmt.Sprintf("t%d", i) }

// policy returns the policy file of the daemon bound to src:port: one
// connection per target, transport mode between src and the target,
// engine none, NAT traversal off (the responder sees each client port as
// it is) and nothing logged below errors.
func (c *Config) policy(src netip.Addr, port uint16, sock string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	list := func(l []string) string { return "[" + strings.Join(l, ", ") + "]" }
	var b strings.Builder
	fmt.Fprintf(&b, "daemon:\n  listen: [%s]\n  ike-port: %d\n  natt-port: 0\n  engine: none\n  control-socket: %s\n",
		q(src.String()), port, q(sock))
	fmt.Fprintf(&b, "  retransmit: {timeout: %s, tries: %d}\n  dpd: {delay: 0s}\n  log: {level: error}\n", c.Retransmit, c.Tries)
	if c.Auth == "certificate" {
		fmt.Fprintf(&b, "certificates:\n  ca: {file: %s, trusted: true}\n  own: {file: %s, private-key: %s}\n", q(c.CA), q(c.Cert), q(c.Key))
	}
	fmt.Fprintf(&b, "transforms:\n  ike: {protocol: isakmp, ciphers: %s, hashes: %s, groups: %s}\n",
		list(c.Ciphers), list(c.Hashes), list(c.Groups))
	fmt.Fprintf(&b, "  esp: {protocol: esp, ciphers: %s, hmacs: %s}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\nconnections:\n",
		list(c.ESPCiphers), list(c.ESPMAC))
	for i, t := range c.Targets {
		fmt.Fprintf(&b, "  %s:\n    local-address: %s\n    remote-address: %s\n    initiate: never\n    keying-tries: 1\n    proposal-list: qm\n",
			connName(i), src, t)
		if c.PFS != "" {
			fmt.Fprintf(&b, "    pfs: %s\n", c.PFS)
		}
		fmt.Fprintf(&b, "    ike:\n      mode: %s\n      transforms: [ike]\n", c.Mode)
		if c.Auth == "psk" {
			fmt.Fprintf(&b, "      auth: psk\n      psk: %s\n", q(c.PSK))
		} else {
			fmt.Fprintf(&b, "      auth: certificate\n      certificate: own\n      ca: ca\n")
		}
		if c.LocalID != "" {
			fmt.Fprintf(&b, "      local-id: %s\n", q(c.LocalID))
		}
		if c.RemoteID != "" {
			fmt.Fprintf(&b, "      remote-id: %s\n", q(c.RemoteID))
		}
	}
	return b.String()
}

// parseAddrs reads a comma-separated list of addresses, ranges
// (192.0.2.10-192.0.2.20) and prefixes (192.0.2.16/28: every address in
// it), at most limit in all.
func parseAddrs(s string, limit int) ([]netip.Addr, error) {
	var out []netip.Addr
	add := func(a netip.Addr) error {
		if len(out) >= limit {
			return fmt.Errorf("more than %d addresses in %q", limit, s)
		}
		out = append(out, a)
		return nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var first, last netip.Addr
		if lo, hi, ok := strings.Cut(f, "-"); ok {
			var err1, err2 error
			first, err1 = netip.ParseAddr(lo)
			last, err2 = netip.ParseAddr(hi)
			if err1 != nil || err2 != nil || first.Is4() != last.Is4() || last.Less(first) {
				return nil, fmt.Errorf("bad range %q", f)
			}
		} else if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			for a := p.Masked().Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
				if err := add(a); err != nil {
					return nil, err
				}
			}
			continue
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			first, last = a, a
		}
		for a := first; ; a = a.Next() {
			if err := add(a); err != nil {
				return nil, err
			}
			if a == last {
				break
			}
		}
	}
	return out, nil
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
