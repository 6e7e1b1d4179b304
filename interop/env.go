package interop

import (
	"os"
	"os/exec"
	"testing"
)

// Tool paths. Variables so that a test machine with another layout can set
// them; the defaults are Debian's.
var (
	CharonPath  = "/usr/sbin/charon-systemd"
	SwanctlPath = "/usr/sbin/swanctl"
	PKIPath     = "/usr/bin/pki"
	IKEScanPath = "/usr/bin/ike-scan"
)

// RequireRoot skips t unless the process is root and the given tools (names
// looked up in PATH, or absolute paths) exist, because namespaces and charon
// cannot run otherwise and a silent pass would hide that nothing was tested.
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("interop: needs root and network namespaces: not running as root")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skip("interop: needs root and network namespaces: no /proc/self/ns/net")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop: needs root and network namespaces: %s not installed (%v)", tool, err)
		}
	}
}

// RequireStrongSwan skips t unless RequireRoot holds and charon, swanctl and
// nft are installed.
func RequireStrongSwan(t testing.TB) {
	t.Helper()
	RequireRoot(t, CharonPath, SwanctlPath, "nft")
}
