package xauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth/pam"
	"github.com/iked/iked/xauth/radius"
)

// Open builds the backend that the policy's daemon.xauth names, counting
// its checks in Checks. It returns nil and no error when the policy has
// no daemon.xauth. The policy load has checked the users file, the
// secret file and the PAM service already; Open reads them again (a
// users file is read again whenever it changes), and an error here is one
// that came after the load: the file removed, the policy built without
// the load.
func Open(cfg policymgr.XAuth) (Backend, error) {
	var b Backend
	var err error
	switch cfg.Backend {
	case policymgr.XAuthNone:
		return nil, nil
	case policymgr.XAuthFile:
		b, err = NewFile(cfg.UsersFile)
	case policymgr.XAuthRADIUS:
		var c *radius.Client
		c, err = radius.New(cfg.RADIUS)
		b = translated{c, radius.ErrRejected}
	case policymgr.XAuthPAM:
		var p *pam.Backend
		p, err = pam.New(cfg.PAM.Service)
		b = translated{p, pam.ErrRejected}
	default:
		return nil, fmt.Errorf("xauth backend %v is unknown", cfg.Backend)
	}
	if err != nil {
		return nil, fmt.Errorf("xauth backend %v: %w", cfg.Backend, err)
	}
	return counted{b, cfg.Backend, Checks}, nil
}

// translated makes a backend package's own rejection error (which it
// cannot take from this package, which imports it) wrap ErrRejected too.
type translated struct {
	b        Backend
	rejected error
}

func (t translated) Check(ctx context.Context, user, password string) error {
	err := t.b.Check(ctx, user, password)
	if err != nil && errors.Is(err, t.rejected) {
		return rejection{err}
	}
	return err
}

// rejection is a backend's rejection: its own text, and ErrRejected.
type rejection struct{ err error }

func (r rejection) Error() string   { return r.err.Error() }
func (r rejection) Unwrap() []error { return []error{ErrRejected, r.err} }

func isRejected(err error) bool { return errors.Is(err, ErrRejected) }

// counted counts a backend's checks by result.
type counted struct {
	b       Backend
	backend policymgr.XAuthBackend
	c       *Counters
}

func (c counted) Check(ctx context.Context, user, password string) error {
	err := c.b.Check(ctx, user, password)
	c.c.add(c.backend, resultOf(err))
	return err
}
