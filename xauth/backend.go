// Package xauth checks the user names and passwords that an XAUTH server
// asks for (draft-beaulieu-ike-xauth-02): from a users file, RADIUS or PAM.
package xauth

import (
	"context"
	"errors"
)

// Backend checks one user name and password.
type Backend interface {
	// Check returns nil when the password is right, an error wrapping
	// ErrRejected when the name or password is wrong, and any other error
	// when the backend could not answer (a RADIUS server down, say).
	Check(ctx context.Context, user, password string) error
}

// ErrRejected is wrapped by the errors of Check for a wrong name or password.
var ErrRejected = errors.New("user name or password rejected")
