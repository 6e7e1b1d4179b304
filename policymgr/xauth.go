package policymgr

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// XAuth is daemon.xauth: where an XAUTH server (draft-beaulieu-ike-xauth-02)
// checks the user names and passwords its clients give. Package xauth
// builds the backend from it (xauth.Open).
type XAuth struct {
	Backend XAuthBackend // XAuthNone when daemon.xauth is absent
	// UsersFile is the users file of the file backend, an absolute path.
	// The load checks it (mode, owner, every line); the backend reads it
	// again whenever it changes.
	UsersFile string
	RADIUS    RADIUS
	PAM       PAM
	Line      int // daemon.xauth's line in the policy file
}

// XAuthBackend is daemon.xauth.backend.
type XAuthBackend uint8

const (
	XAuthNone XAuthBackend = iota
	XAuthFile
	XAuthRADIUS
	XAuthPAM
)

func (b XAuthBackend) String() string {
	switch b {
	case XAuthNone:
		return "none"
	case XAuthFile:
		return "file"
	case XAuthRADIUS:
		return "radius"
	case XAuthPAM:
		return "pam"
	}
	return "XAuthBackend(" + strconv.Itoa(int(b)) + ")"
}

// RADIUS is daemon.xauth.radius: the RADIUS servers (RFC 2865) that the
// radius backend asks, in order, with PAP.
type RADIUS struct {
	Servers       []netip.AddrPort // tried in order; port 1812 when not given
	SecretFile    string           // absolute path
	Secret        Secret           // what SecretFile holds, shared with every server
	NASIdentifier string           // the NAS-Identifier attribute
	Timeout       time.Duration    // how long one server has to answer
}

// PAM is daemon.xauth.pam: the PAM service (a file in /etc/pam.d) that
// the pam backend authenticates against.
type PAM struct {
	Service string
}

// The defaults of daemon.xauth (docs/policy-file.md).
const (
	radiusPortDefault    = 1812 // RFC 2865, 3
	radiusTimeoutDefault = 3 * time.Second
	radiusNASIDDefault   = "iked"
	pamServiceDefault    = "iked"
	radiusServersMax     = 8
)

// String describes the backend as iked -check says it, without secrets.
func (x XAuth) String() string {
	switch x.Backend {
	case XAuthFile:
		return "the users file " + x.UsersFile
	case XAuthRADIUS:
		s := "RADIUS server"
		if len(x.RADIUS.Servers) > 1 {
			s += "s"
		}
		for i, a := range x.RADIUS.Servers {
			if i > 0 {
				s += " then"
			}
			s += " " + a.String()
		}
		return fmt.Sprintf("%s (PAP, NAS-Identifier %q, %v for each)", s, x.RADIUS.NASIdentifier, x.RADIUS.Timeout)
	case XAuthPAM:
		return fmt.Sprintf("the PAM service %q", x.PAM.Service)
	}
	return "nothing"
}
