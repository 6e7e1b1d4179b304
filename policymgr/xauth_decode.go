package policymgr

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/notify"
	"github.com/iked/iked/xauth/userfile"
)

// The keys of daemon.xauth and of its radius and pam mappings.
var (
	xauthKeys  = []string{"backend", "users-file", "radius", "pam"}
	radiusKeys = []string{"servers", "secret-file", "nas-identifier", "timeout"}
	pamKeys    = []string{"service"}
)

// pamServiceName is what a PAM service may be called: a file name in
// /etc/pam.d.
var pamServiceName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// pamDir is where PAM looks for a service's file (Linux-PAM's
// /etc/pam.d; /etc/pam.conf is not read when the folder exists).
const pamDir = "/etc/pam.d"

// xauthSection decodes daemon.xauth; k is its key.
func (d *decoder) xauthSection(k, v *yaml.Node) XAuth {
	x := XAuth{Line: k.Line}
	nodes := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	if !d.mapping(v, "daemon xauth", xauthKeys, func(key string, k, v *yaml.Node) { nodes[key], keys[key] = v, k }) {
		return XAuth{}
	}
	bn, given := nodes["backend"]
	if !given {
		d.errorf(k, "daemon xauth has no backend: give backend: file, radius or pam")
		return XAuth{}
	}
	s, ok := d.str(bn, "daemon xauth backend")
	if !ok {
		return XAuth{}
	}
	switch s {
	case "file":
		x.Backend = XAuthFile
	case "radius":
		x.Backend = XAuthRADIUS
	case "pam":
		x.Backend = XAuthPAM
	default:
		d.errorf(bn, "daemon xauth backend %q: it must be file, radius or pam", s)
		return XAuth{}
	}
	// A key of another backend is left over from a change of backend:
	// said, and ignored.
	for key, b := range map[string]XAuthBackend{"users-file": XAuthFile, "radius": XAuthRADIUS, "pam": XAuthPAM} {
		if kn, given := keys[key]; given && b != x.Backend {
			d.warnf(kn, "daemon xauth %s is ignored: the backend is %s", key, x.Backend)
		}
	}
	switch x.Backend {
	case XAuthFile:
		un, given := nodes["users-file"]
		if !given {
			d.errorf(bn, "daemon xauth backend file needs users-file")
			return XAuth{}
		}
		if name, ok := d.str(un, "daemon xauth users-file"); ok {
			x.UsersFile = d.path(name)
			d.usersFile(un, x.UsersFile)
		}
	case XAuthRADIUS:
		rn, given := nodes["radius"]
		if !given {
			d.errorf(bn, "daemon xauth backend radius needs radius: {servers: [...], secret-file: ...}")
			return XAuth{}
		}
		x.RADIUS = d.radius(keys["radius"], rn)
	case XAuthPAM:
		x.PAM = PAM{Service: pamServiceDefault}
		at := bn
		if pn, given := nodes["pam"]; given {
			d.mapping(pn, "daemon xauth pam", pamKeys, func(_ string, _, v *yaml.Node) {
				if s, ok := d.str(v, "daemon xauth pam service"); ok {
					if !pamServiceName.MatchString(s) {
						d.errorf(v, "daemon xauth pam service %q: it must be a file name in %s (letters, digits, . _ -)", s, pamDir)
						return
					}
					x.PAM.Service, at = s, v
				}
			})
		}
		if !pamBuilt {
			d.errorf(bn, "daemon xauth backend pam: iked built without PAM (it needs cgo and libpam0g-dev); use backend file or radius, or build iked with CGO_ENABLED=1")
			return XAuth{}
		}
		if _, err := os.Stat(filepath.Join(pamDir, x.PAM.Service)); errors.Is(err, fs.ErrNotExist) {
			d.warnf(at, "daemon xauth pam service %q: %s/%s does not exist, so PAM uses the service \"other\" (on Debian it refuses everyone)", x.PAM.Service, pamDir, x.PAM.Service)
		}
	}
	return x
}

// usersFile checks the users file as the backend will read it: its mode,
// owner and every line. Weak hashes are warnings.
func (d *decoder) usersFile(n *yaml.Node, path string) {
	t, _, err := userfile.Read(path)
	if err != nil {
		d.errorf(n, "daemon xauth users-file %v", err)
		return
	}
	if t.Len() == 0 {
		d.warnf(n, "daemon xauth users-file %s holds no user: every login is refused", path)
	}
	_, weak := t.Summary()
	for _, w := range weak {
		d.warnf(n, "daemon xauth users-file %s %s: a stolen copy of the file is cheap to guess at", path, w)
	}
}

// radius decodes daemon.xauth.radius; k is its key.
func (d *decoder) radius(k, n *yaml.Node) RADIUS {
	r := RADIUS{NASIdentifier: radiusNASIDDefault, Timeout: radiusTimeoutDefault}
	given := map[string]bool{}
	d.mapping(n, "daemon xauth radius", radiusKeys, func(key string, _, v *yaml.Node) {
		given[key] = true
		what := "daemon xauth radius " + key
		switch key {
		case "servers":
			list, nodes, ok := d.list(v, what)
			if !ok {
				return
			}
			if len(list) > radiusServersMax {
				d.errorf(v, "%s: %d servers, at most %d", what, len(list), radiusServersMax)
				return
			}
			seen := map[netip.AddrPort]bool{}
			for i, s := range list {
				ap, err := radiusServer(s)
				if err != nil {
					d.errorf(nodes[i], "%s: %q is not ADDRESS or ADDRESS:PORT (192.0.2.10:1812, [2001:db8::10]:1812)", what, s)
					continue
				}
				if seen[ap] {
					d.errorf(nodes[i], "%s: %s is given twice", what, ap)
					continue
				}
				seen[ap] = true
				r.Servers = append(r.Servers, ap)
			}
			if len(list) == 0 {
				d.errorf(v, "%s is empty", what)
			}
		case "secret-file":
			if s, ok := d.str(v, what); ok {
				r.SecretFile = d.path(s)
				r.Secret = d.secretFile(v, what, s)
			}
		case "nas-identifier":
			if s, ok := d.str(v, what); ok {
				if len(s) > 253 {
					d.errorf(v, "%s is longer than 253 bytes (RFC 2865, 5.32)", what)
				}
				r.NASIdentifier = s
			}
		case "timeout":
			if t, ok := d.duration(v, what, 100*time.Millisecond, time.Minute); ok {
				r.Timeout = t
			}
		}
	})
	for _, key := range []string{"servers", "secret-file"} {
		if !given[key] {
			d.errorf(k, "daemon xauth radius needs %s", key)
		}
	}
	return r
}

// radiusServer parses ADDRESS or ADDRESS:PORT ([IPv6]:PORT).
func radiusServer(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil && !strings.Contains(s, "%") {
		return netip.AddrPortFrom(a, radiusPortDefault), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, errors.New("not an address")
	}
	return ap, nil
}

// describeXAuth says, at daemon.xauth's line, where XAUTH logins are
// checked, and for a users file how many users it holds with which hashes.
func (d *decoder) describeXAuth(x XAuth) {
	if x.Backend == XAuthNone {
		return
	}
	what := x.String()
	if x.Backend == XAuthFile {
		if t, _, err := userfile.Read(x.UsersFile); err == nil {
			kinds, _ := t.Summary()
			what += fmt.Sprintf(" (%d users", t.Len())
			if len(kinds) > 0 {
				what += "; " + strings.Join(kinds, ", ")
			}
			what += ")"
		}
	}
	d.add(x.Line, plainAt(notify.LevelInfo, x.Line, "daemon xauth: an XAUTH server checks user names and passwords against %s", what))
}
