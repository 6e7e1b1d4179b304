package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A plugin missing from the machine is named with its Debian package; the
// two that an install with --no-install-recommends lacks come from
// libstrongswan-standard-plugins.
func TestMissingPluginsNamesPackages(t *testing.T) {
	dir := t.TempDir()
	old := PluginDir
	PluginDir = dir
	t.Cleanup(func() { PluginDir = old })
	for _, p := range []string{"aes", "sha2", "kernel-libipsec"} {
		if err := os.WriteFile(filepath.Join(dir, "libstrongswan-"+p+".so"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if m := missingPlugins([]string{"aes", "sha2", "kernel-libipsec"}); m != "" {
		t.Fatalf("all present, got %q", m)
	}
	m := missingPlugins([]string{"aes", "gcm", "openssl", "curve25519"})
	for _, want := range []string{"gcm, openssl, curve25519", "apt-get install libstrongswan-extra-plugins libstrongswan-standard-plugins"} {
		if !strings.Contains(m, want) {
			t.Errorf("missingPlugins = %q, want it to contain %q", m, want)
		}
	}
}

func TestMissingToolsNamesPackages(t *testing.T) {
	m := missingTools([]string{"/nonexistent/ike-scan", "/nonexistent/swanctl", "/nonexistent/nft"})
	want := "apt-get install ike-scan nftables strongswan-swanctl"
	if !strings.Contains(m, want) {
		t.Errorf("missingTools = %q, want %q in it", m, want)
	}
	if m := missingTools([]string{"sh"}); m != "" {
		t.Errorf("sh exists, got %q", m)
	}
}

// pluginsFor reads what a configuration proposes: AES-GCM needs gcm,
// Curve25519 needs curve25519, kernel-libipsec is loaded on request, an
// XAUTH round needs xauth-generic.
func TestPluginsFor(t *testing.T) {
	for _, c := range []struct {
		conf string
		opt  CharonOptions
		want string
	}{
		{"proposals = aes128-sha256-modp2048", CharonOptions{}, ""},
		{"esp_proposals = aes128gcm16-modp2048", CharonOptions{}, "gcm"},
		{"proposals = aes256-sha256-curve25519", CharonOptions{LibIPsec: true}, "curve25519 kernel-libipsec"},
		{"proposals = 3des-md5-modp1024", CharonOptions{}, "md5"},
		{"remote-xauth {\n      auth = xauth\n    }", CharonOptions{}, "xauth-generic"},
	} {
		if got := strings.Join(pluginsFor(&c.opt, c.conf), " "); got != c.want {
			t.Errorf("pluginsFor(%q, libipsec=%v) = %q, want %q", c.conf, c.opt.LibIPsec, got, c.want)
		}
	}
}

// swanctl's warnings about its own plugins are not a failed load; a
// connection or secret that failed to load is.
func TestLoadFailed(t *testing.T) {
	warnings := "plugin 'gcm': failed to load - gcm_plugin_create not found and no plugin file available\n" +
		"plugin 'openssl': failed to load - openssl_plugin_create not found and no plugin file available\n" +
		"loaded ike secret 'ike-psk'\nloaded connection 'ike'\nsuccessfully loaded 1 connections, 0 unloaded\n"
	if loadFailed(warnings) {
		t.Errorf("plugin warnings taken for a failure:\n%s", warnings)
	}
	bad := warnings + "loading connection 'ike' failed: invalid value for: proposals, config discarded\n"
	if !loadFailed(bad) {
		t.Errorf("a failed connection not seen:\n%s", bad)
	}
}

// A failed test's charon tail keeps the IKE lines that the vici clients'
// polling would push out (lines as charon 5.9.8 wrote them in a CI run
// that failed this way).
func TestCharonTailWithoutVici(t *testing.T) {
	log := "Dec  5 12:38:34 13[IKE] received quick mode request for unestablished IKE_SA, ignored\n" +
		"Dec  5 12:38:34 13[IKE] IKE_SA ike[1] state change: CONNECTING => DESTROYING\n" +
		strings.Repeat("Dec  5 12:38:53 13[CFG] vici client 190 registered for: list-sa\n"+
			"Dec  5 12:38:53 11[CFG] vici client 190 requests: list-sas\n", 30) +
		"Dec  5 12:38:54 00[DMN] SIGTERM received, shutting down\n"
	got := tail(withoutVici(log), 40)
	want := "Dec  5 12:38:34 13[IKE] received quick mode request for unestablished IKE_SA, ignored\n" +
		"Dec  5 12:38:34 13[IKE] IKE_SA ike[1] state change: CONNECTING => DESTROYING\n" +
		"Dec  5 12:38:54 00[DMN] SIGTERM received, shutting down"
	if got != want {
		t.Errorf("tail:\n%s\nwant:\n%s", got, want)
	}
}
