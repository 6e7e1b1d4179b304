package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Tool paths. Variables so that a test machine with another layout can set
// them; the defaults are Debian's.
var (
	CharonPath  = "/usr/sbin/charon-systemd"
	SwanctlPath = "/usr/sbin/swanctl"
	PKIPath     = "/usr/bin/pki"
	IKEScanPath = "/usr/bin/ike-scan"
	// PluginDir holds strongSwan's plugins, one libstrongswan-NAME.so each.
	PluginDir = "/usr/lib/ipsec/plugins"
)

// toolPackage names the Debian package that provides each tool the
// harness runs, so that a missing one is reported as the package to
// install rather than as a path that does not exist. .ci/run installs all
// of them.
var toolPackage = map[string]string{
	"ip":             "iproute2",
	"nft":            "nftables",
	"openssl":        "openssl",
	"tshark":         "tshark",
	"ike-scan":       "ike-scan",
	"psk-crack":      "ike-scan",
	"charon-systemd": "charon-systemd",
	"swanctl":        "strongswan-swanctl",
	"pki":            "strongswan-pki",
	"xl2tpd":         "xl2tpd",
	"pppd":           "ppp",
	"htpasswd":       "apache2-utils",
	"argon2":         "argon2",
	"freeradius":     "freeradius",
	"useradd":        "passwd",
}

// pluginPackage names the Debian package of each strongSwan plugin the
// scenarios use (Debian 12, strongSwan 5.9.8). libstrongswan recommends
// libstrongswan-standard-plugins, so an install with
// --no-install-recommends lacks gcm and openssl (ECP groups, and the
// algorithms charon prefers from OpenSSL) unless it is named.
var pluginPackage = map[string]string{
	"aes": "libstrongswan", "sha1": "libstrongswan", "sha2": "libstrongswan",
	"md5": "libstrongswan", "hmac": "libstrongswan", "gmp": "libstrongswan",
	"nonce": "libstrongswan", "random": "libstrongswan", "pem": "libstrongswan",
	"pkcs1": "libstrongswan", "pkcs8": "libstrongswan", "x509": "libstrongswan",
	"pubkey": "libstrongswan", "revocation": "libstrongswan", "constraints": "libstrongswan",
	"kernel-netlink": "libstrongswan",
	"socket-default": "strongswan-libcharon", "updown": "strongswan-libcharon",
	"vici": "strongswan-swanctl",
	"gcm":  "libstrongswan-standard-plugins", "openssl": "libstrongswan-standard-plugins",
	"curve25519": "libstrongswan-extra-plugins", "ctr": "libstrongswan-extra-plugins",
	"ccm": "libstrongswan-extra-plugins", "chapoly": "libstrongswan-extra-plugins",
	"kernel-libipsec": "libcharon-extra-plugins", "unity": "libcharon-extra-plugins",
	"xauth-generic": "libcharon-extauth-plugins",
}

// basePlugins are what every scenario's charon needs: IKEv1 with AES,
// SHA-1/SHA-2 HMACs, MODP and ECP groups, PSK and X.509 authentication,
// the kernel interface and the vici socket the harness drives it through.
var basePlugins = []string{"aes", "sha1", "sha2", "hmac", "gmp", "nonce", "random",
	"pem", "pkcs1", "pkcs8", "x509", "pubkey", "openssl", "kernel-netlink",
	"socket-default", "vici"}

// mustRun reports whether a missing prerequisite is a failure rather than
// a skip: in CI (CI set, as .ci/run's environment has it) every live test
// must run, because a skipped suite that passes proves nothing.
func mustRun() bool { return os.Getenv("CI") != "" }

// missing skips t, or fails it under CI, with what is missing.
func missing(t testing.TB, what string) {
	t.Helper()
	if mustRun() {
		t.Fatalf("interop: %s (CI is set: the live tests must run here; .ci/run installs it)", what)
	}
	t.Skipf("interop: needs root and network namespaces: %s", what)
}

// RequireRoot skips t unless the process is root and the given tools (names
// looked up in PATH, or absolute paths) exist, because namespaces and charon
// cannot run otherwise and a silent pass would hide that nothing was tested.
// A missing tool is named with the Debian package to install; under CI it
// fails the test instead.
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "not running as root")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		missing(t, "no /proc/self/ns/net")
	}
	if m := missingTools(append([]string{"ip", "sysctl"}, tools...)); m != "" {
		missing(t, m)
	}
}

// RequireTools skips t (fails it under CI) unless the given tools exist:
// for tests that run real programs (htpasswd, FreeRADIUS) but need
// neither root nor namespaces.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	if m := missingTools(tools); m != "" {
		if mustRun() {
			t.Fatalf("%s (CI is set: the test must run here; .ci/run installs it)", m)
		}
		t.Skipf("needs %s", m)
	}
}

// missingTools returns "" when every tool exists, or a sentence naming the
// missing ones and the Debian packages that provide them.
func missingTools(tools []string) string {
	var names, pkgs []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			names = append(names, tool)
			pkgs = append(pkgs, packageOf(toolPackage, filepath.Base(tool)))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s not installed (apt-get install %s)", strings.Join(names, ", "), strings.Join(uniq(pkgs), " "))
}

// RequireStrongSwan skips t unless RequireRoot holds and charon, swanctl,
// nft and strongSwan's base plugins are installed.
func RequireStrongSwan(t testing.TB) {
	t.Helper()
	RequireRoot(t, CharonPath, SwanctlPath, "nft")
	RequirePlugins(t, basePlugins...)
}

// RequirePlugins skips t (fails it under CI) unless each named strongSwan
// plugin is installed, naming the Debian packages that are missing.
func RequirePlugins(t testing.TB, plugins ...string) {
	t.Helper()
	if m := missingPlugins(plugins); m != "" {
		missing(t, m)
	}
}

func missingPlugins(plugins []string) string {
	var names, pkgs []string
	for _, p := range plugins {
		if _, err := os.Stat(filepath.Join(PluginDir, "libstrongswan-"+p+".so")); err != nil {
			names = append(names, p)
			pkgs = append(pkgs, packageOf(pluginPackage, p))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("strongSwan plugin %s missing (apt-get install %s)", strings.Join(names, ", "), strings.Join(uniq(pkgs), " "))
}

// pluginsFor returns the plugins a charon with this swanctl.conf needs
// beyond basePlugins, read from the algorithm names it proposes and the
// options that load a plugin.
func pluginsFor(opt *CharonOptions, swanctlConf string) []string {
	var need []string
	conf := strings.ToLower(swanctlConf)
	for _, w := range []struct{ token, plugin string }{
		{"gcm", "gcm"}, {"ccm", "ccm"}, {"chacha20poly1305", "chapoly"},
		{"curve25519", "curve25519"}, {"x25519", "curve25519"}, {"aesctr", "ctr"},
		{"md5", "md5"},
	} {
		if strings.Contains(conf, w.token) {
			need = append(need, w.plugin)
		}
	}
	if opt.LibIPsec {
		need = append(need, "kernel-libipsec")
	}
	if strings.Contains(conf, "auth = xauth") {
		need = append(need, "xauth-generic")
	}
	return uniq(need)
}

// swanctlWarning reports whether a line of swanctl's output is a warning
// about a plugin that could not be loaded. swanctl loads its compiled-in
// plugin list and says so for each one that is not installed; the plugins
// a scenario needs are checked before charon starts (pluginsFor), so such
// a line is not a failure.
func swanctlWarning(line string) bool {
	line = strings.TrimSpace(line)
	return strings.HasPrefix(line, "plugin '") && strings.Contains(line, "': failed to load")
}

func packageOf(m map[string]string, name string) string {
	if p, ok := m[name]; ok {
		return p
	}
	return "the package providing " + name
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
