package interop

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// routerRules loads the router's nftables ruleset: masquerade out of the
// right link when opt.NAT, and a random drop of opt.DropPercent % of IKE
// packets (UDP 500/4500, either port) with a counter, when it is not zero.
func routerRules(router *Namespace, outIf string, opt RoutedOptions) error {
	var b strings.Builder
	if opt.NAT {
		fmt.Fprintf(&b, "table ip %snat {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n  oifname %q masquerade\n }\n}\n", Prefix, outIf)
	}
	if opt.DropPercent > 0 {
		fmt.Fprintf(&b, "table inet %sdrop {\n chain forward {\n  type filter hook forward priority filter; policy accept;\n", Prefix)
		fmt.Fprintf(&b, "  udp dport { 500, 4500 } jump ike\n  udp sport { 500, 4500 } jump ike\n }\n")
		// The final accept gives each packet one draw even when both of
		// its ports are IKE's.
		fmt.Fprintf(&b, " chain ike {\n  numgen random mod 100 < %d counter drop\n  accept\n }\n}\n", opt.DropPercent)
	}
	if opt.DropIPFragments {
		// Priority -500 runs before the IPv4 defragmentation (-400), which
		// connection tracking would otherwise do first.
		fmt.Fprintf(&b, "table ip %sfrag {\n chain pre {\n  type filter hook prerouting priority -500; policy accept;\n", Prefix)
		fmt.Fprintf(&b, "  ip frag-off & 0x1fff != 0 counter drop\n  ip frag-off & 0x2000 != 0 counter drop\n }\n}\n")
	}
	if b.Len() == 0 {
		return nil
	}
	cmd := exec.Command("ip", "netns", "exec", router.Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s\n%s", router.Name, err, out, b.String())
	}
	return nil
}

var counterRE = regexp.MustCompile(`counter packets (\d+) bytes \d+ drop`)

// Dropped returns how many IKE packets the router has dropped so far, so a
// test can show its loss was real.
func (r *Routed) Dropped() (int, error) {
	out, err := r.Router.Run("nft", "list", "table", "inet", Prefix+"drop")
	if err != nil {
		return 0, err
	}
	m := counterRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no drop counter in:\n%s", out)
	}
	return strconv.Atoi(m[1])
}

// DroppedFragments returns how many IP fragments the router has dropped
// (RoutedOptions.DropIPFragments): the non-first and the first ones.
func (r *Routed) DroppedFragments() (int, error) {
	out, err := r.Router.Run("nft", "list", "table", "ip", Prefix+"frag")
	if err != nil {
		return 0, err
	}
	ms := counterRE.FindAllStringSubmatch(out, -1)
	if len(ms) != 2 {
		return 0, fmt.Errorf("no fragment drop counters in:\n%s", out)
	}
	n := 0
	for _, m := range ms {
		k, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}
