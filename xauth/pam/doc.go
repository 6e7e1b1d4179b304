// Package pam checks XAUTH user names and passwords with PAM (Linux-PAM,
// through github.com/msteinert/pam): the service named in the policy, a
// file in /etc/pam.d, runs its auth and account stacks.
//
// PAM needs cgo. A build without it (CGO_ENABLED=0, the static binary of
// the Debian package and of the container image) has this package's
// names, but New returns ErrNotBuilt, and the policy manager refuses
// backend pam with the same words (policymgr/pam_cgo.go has the same
// build constraint as pam.go).
package pam

import "errors"

// ErrRejected is wrapped by Check's error when PAM refused the user:
// a wrong name or password, an expired or locked account.
var ErrRejected = errors.New("pam: refused")

// ErrNotBuilt is New's error in a build without cgo.
var ErrNotBuilt = errors.New("iked built without PAM (it needs cgo and libpam0g-dev)")
