package modecfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// applied is what a client connection installed of its gateway's
// answer, to be undone when the ISAKMP SA goes.
type applied struct {
	conn string
	cfg  Config
	// link is the interface the address went on ("": none); resolv the
	// file the DNS lines went in ("": none).
	link   string
	resolv string
	dns    policymgr.DNSMode
}

// Request is what the client connection conn asks its gateway for.
func (s *Store) Request(conn *policymgr.Connection) []isakmp.Attribute {
	if conn == nil || conn.ModeConfig == nil || !conn.ModeConfig.Request {
		return nil
	}
	return requestAttributes(conn)
}

// Apply installs what the gateway gave the client connection conn on the
// ISAKMP SA owner: the address on mode-config.interface (a host address,
// as strongSwan installs a virtual IP), the DNS servers and domain in
// mode-config.resolv-conf with dns: install; and remembers it all for
// Quick Mode (our local selector, VirtualIP) and the updown script (DNS).
// A second Apply on the same SA (a SET after a REPLY) replaces the first.
// An answer without an address is an error: the client asked for one.
func (s *Store) Apply(conn *policymgr.Connection, owner daemon.Cookies, got []isakmp.Attribute) error {
	if conn == nil || conn.ModeConfig == nil || !conn.ModeConfig.Request {
		return fmt.Errorf("modecfg: %w request on the connection", ErrNoModeConfig)
	}
	mc := conn.ModeConfig
	cfg, err := Parse(got)
	if err != nil {
		return err
	}
	if !cfg.Address.IsValid() || cfg.Address.IsUnspecified() {
		return fmt.Errorf("modecfg: the gateway gave connection %q no address", conn.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.clients[owner]; ok {
		delete(s.clients, owner)
		s.undo(old)
	}
	a := &applied{conn: conn.Name, cfg: cfg, dns: mc.DNS}
	if mc.Interface != "" {
		if err := s.addAddress(mc.Interface, cfg.Address); err != nil {
			return fmt.Errorf("modecfg: connection %q: address %s on %s: %w", conn.Name, cfg.Address, mc.Interface, err)
		}
		a.link = mc.Interface
	}
	if mc.DNS == policymgr.DNSInstall && (len(cfg.DNS) > 0 || cfg.Domain != "") {
		if err := addResolvConf(mc.ResolvConf, conn.Name, cfg); err != nil {
			s.undo(a)
			return fmt.Errorf("modecfg: connection %q: DNS in %s: %w", conn.Name, mc.ResolvConf, err)
		}
		a.resolv = mc.ResolvConf
	}
	s.clients[owner] = a
	if l := s.opt.Log; l != nil {
		var dns []string
		for _, d := range cfg.DNS {
			dns = append(dns, d.String())
		}
		l.Info("Mode Config address assigned", zap.String("conn", conn.Name), zap.String("address", cfg.Address.String()),
			zap.String("interface", mc.Interface), zap.Strings("dns", dns), zap.String("domain", cfg.Domain),
			zap.Strings("split-include", prefixTexts(cfg.Split)), zap.Strings("split-exclude", prefixTexts(cfg.Exclude)))
		if cfg.Banner != "" {
			l.Notice("Mode Config banner", zap.String("conn", conn.Name), zap.String("banner", cfg.Banner))
		}
	}
	return nil
}

// prefixTexts writes networks for a log line.
func prefixTexts(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// DNS returns the DNS servers and domain the gateway gave the client's
// ISAKMP SA owner, for the updown script (nothing with dns: no).
func (s *Store) DNS(owner daemon.Cookies) ([]netip.Addr, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.clients[owner]
	if !ok || a.dns == policymgr.DNSNo {
		return nil, ""
	}
	return a.cfg.DNS, a.cfg.Domain
}

// undo removes what a installed; called with mu held.
func (s *Store) undo(a *applied) {
	if a.link != "" {
		if err := s.delAddress(a.link, a.cfg.Address); err != nil && s.opt.Log != nil {
			s.opt.Log.Warn("Mode Config address not removed", zap.String("conn", a.conn), zap.String("interface", a.link),
				zap.String("address", a.cfg.Address.String()), zap.Error(err))
		}
	}
	if a.resolv != "" {
		if err := removeResolvConf(a.resolv, a.conn); err != nil && s.opt.Log != nil {
			s.opt.Log.Warn("Mode Config DNS servers not removed", zap.String("conn", a.conn), zap.String("file", a.resolv), zap.Error(err))
		}
	}
	if s.opt.Log != nil {
		s.opt.Log.Info("Mode Config address removed", zap.String("conn", a.conn), zap.String("address", a.cfg.Address.String()))
	}
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// addAddress puts a on the interface ifname as a host address.
func (s *Store) addAddress(ifname string, a netip.Addr) error {
	h, link, err := s.link(ifname)
	if err != nil {
		return err
	}
	return h.AddrReplace(link, &netlink.Addr{IPNet: hostNet(a)})
}

// delAddress takes the host address a off the interface ifname.
func (s *Store) delAddress(ifname string, a netip.Addr) error {
	h, link, err := s.link(ifname)
	if err != nil {
		return err
	}
	return h.AddrDel(link, &netlink.Addr{IPNet: hostNet(a)})
}

// link returns the netlink handle (Options.Netlink, or the current
// namespace's) and the interface ifname.
func (s *Store) link(ifname string) (*netlink.Handle, netlink.Link, error) {
	h := s.opt.Netlink
	if h == nil {
		h = &netlink.Handle{}
	}
	link, err := h.LinkByName(ifname)
	return h, link, err
}

// resolvMark ends each line iked adds to resolv.conf, so that it removes
// its own lines and only them (strongSwan's resolve plugin marks its
// lines the same way).
func resolvMark(conn string) string { return " # iked: " + conn }

// addResolvConf puts the servers and domain first in the file (the
// resolver tries the first nameservers first), marked, written in place
// so that a symbolic link stays one.
func addResolvConf(path, conn string, c Config) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var b strings.Builder
	if c.Domain != "" && isDNSName(c.Domain) {
		b.WriteString("search " + c.Domain + resolvMark(conn) + "\n")
	}
	for _, d := range c.DNS {
		b.WriteString("nameserver " + d.String() + resolvMark(conn) + "\n")
	}
	b.WriteString(withoutMarked(string(old), conn))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func removeResolvConf(path, conn string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	kept := withoutMarked(string(old), conn)
	if kept == string(old) {
		return nil
	}
	return os.WriteFile(path, []byte(kept), 0o644)
}

func withoutMarked(text, conn string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasSuffix(strings.TrimRight(line, "\n"), resolvMark(conn)) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// isDNSName keeps a gateway's domain from writing anything but a name
// into resolv.conf.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
