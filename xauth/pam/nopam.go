//go:build !(cgo && linux)

package pam

import "context"

// Backend stands for the PAM backend in a build without cgo.
type Backend struct{}

// New returns ErrNotBuilt: this build has no PAM.
func New(service string) (*Backend, error) { return nil, ErrNotBuilt }

// Check returns ErrNotBuilt.
func (*Backend) Check(ctx context.Context, user, password string) error {
	return ErrNotBuilt
}
