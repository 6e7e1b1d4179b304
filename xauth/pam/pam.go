//go:build cgo && linux

package pam

import (
	"context"
	"errors"
	"fmt"

	"github.com/msteinert/pam/v2"
)

// maxRunning bounds the PAM conversations at once: a module may block
// (a failure delay, a directory server), each in a thread of its own.
const maxRunning = 16

// Backend authenticates against one PAM service.
type Backend struct {
	service string
	sem     chan struct{}
}

// New returns the backend of the PAM service (the policy's
// daemon.xauth.pam.service).
func New(service string) (*Backend, error) {
	if service == "" {
		return nil, errors.New("pam: no service")
	}
	return &Backend{service: service, sem: make(chan struct{}, maxRunning)}, nil
}

// Check runs the service's auth stack (pam_authenticate) and account
// stack (pam_acct_mgmt) for user, answering every password prompt with
// password. PAM calls cannot be interrupted: when ctx ends first, Check
// returns and the conversation finishes in the background.
func (b *Backend) Check(ctx context.Context, user, password string) error {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-b.sem }()
		done <- b.authenticate(user, password)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) authenticate(user, password string) error {
	if user == "" {
		return fmt.Errorf("%w: the user name is empty", ErrRejected)
	}
	conv := pam.ConversationFunc(func(s pam.Style, msg string) (string, error) {
		switch s {
		case pam.PromptEchoOff:
			return password, nil
		case pam.PromptEchoOn:
			// A module asking for the name again ("login:").
			return user, nil
		case pam.ErrorMsg, pam.TextInfo:
			return "", nil
		}
		return "", fmt.Errorf("pam: unsupported conversation style %d", s)
	})
	t, err := pam.Start(b.service, user, conv)
	if err != nil {
		return fmt.Errorf("pam: service %q: %w", b.service, err)
	}
	defer t.End()
	if err := t.Authenticate(pam.DisallowNullAuthtok); err != nil {
		return classify(b.service, user, err)
	}
	if err := t.AcctMgmt(pam.DisallowNullAuthtok); err != nil {
		return classify(b.service, user, err)
	}
	return nil
}

// classify tells a refusal (ErrRejected) from PAM failing to answer.
func classify(service, user string, err error) error {
	var pe pam.Error
	if errors.As(err, &pe) {
		switch pe {
		case pam.ErrAuth, pam.ErrUserUnknown, pam.ErrPermDenied, pam.ErrAcctExpired,
			pam.ErrMaxtries, pam.ErrNewAuthtokReqd, pam.ErrAuthtokExpired:
			return fmt.Errorf("%w: service %q, user %q: %v", ErrRejected, service, user, err)
		}
	}
	return fmt.Errorf("pam: service %q, user %q: %w", service, user, err)
}
