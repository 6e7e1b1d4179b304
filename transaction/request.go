package transaction

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/xauth"
)

// kind is what a request or set of ours was for.
type kind uint8

const (
	kindLogin      kind = iota + 1 // gateway: REQUEST(user, password)
	kindStatus                     // gateway: SET(XAUTH-STATUS)
	kindModeConfig                 // client: REQUEST of Mode Config (pull)
	kindPush                       // gateway: SET of Mode Config (push)
)

func (k kind) String() string {
	switch k {
	case kindLogin:
		return "XAUTH_REQUEST_SENT"
	case kindStatus:
		return "XAUTH_STATUS_SENT"
	case kindModeConfig:
		return "MODECFG_REQUEST_SENT"
	case kindPush:
		return "MODECFG_SET_SENT"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// checkTimeout bounds one password check (a RADIUS server's retries
// included).
const checkTimeout = 30 * time.Second

// request is an exchange we began: our REQUEST or SET, waiting for its
// REPLY or ACK (daemon.Exchange).
type request struct {
	h    *Handler
	s    *session
	k    phase1.InfoKeys
	p    *protection
	kind kind
	sent *isakmp.Attr
	// checking: the password is with the backend (Work).
	checking bool
	user     string
}

func (x *request) State() string { return x.kind.String() }

// Consume takes the peer's answer: the REPLY of a REQUEST or the ACK of a
// SET. Its identifier is not compared with ours: strongSwan's
// xauth-generic answers a REQUEST with identifier 0, and the message ID
// and HASH already bind the answer to the request.
func (x *request) Consume(c *daemon.Context, pk *daemon.Packet) daemon.Result {
	a, next, err := x.p.open(pk.Data)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	want := isakmp.CfgReply
	if x.sent.CfgType == isakmp.CfgSet {
		want = isakmp.CfgAck
	}
	if a.CfgType != want {
		return daemon.Result{Reject: fmt.Errorf("transaction: %v answers %v", a.CfgType, x.sent.CfgType)}
	}
	x.p.accept(next)
	switch x.kind {
	case kindLogin:
		return x.login(c, a)
	case kindStatus:
		return x.statusAcked(c)
	case kindModeConfig:
		return x.h.modeConfigGot(c, x.s, x.k, a.Attributes)
	case kindPush:
		x.s.mcDone = true
		return x.h.done(c, x.s, daemon.Result{Done: true})
	}
	return daemon.Result{Reject: fmt.Errorf("transaction: answer to %v", x.kind)}
}

// login checks the user name and password of the client's REPLY with the
// backend, in the daemon's I/O pool (daemon.Result.IO).
func (x *request) login(c *daemon.Context, a *isakmp.Attr) daemon.Result {
	user, hasUser := textOf(a.Attributes, isakmp.XAuthUserName)
	pass, hasPass := textOf(a.Attributes, isakmp.XAuthUserPassword)
	x.s.tries++
	x.user = printable([]byte(user))
	if !hasUser || !hasPass {
		return x.checked(c, fmt.Errorf("%w: no user name or password in the reply", xauth.ErrRejected))
	}
	b, err := x.h.backend(c)
	if err != nil {
		return x.checked(c, err)
	}
	x.checking = true
	// The daemon's I/O pool, not its workers: a RADIUS server that does
	// not answer holds the check for checkTimeout.
	return daemon.Result{IO: func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		return b.Check(ctx, user, pass)
	}}
}

// Resume takes the backend's answer.
func (x *request) Resume(c *daemon.Context, v any) daemon.Result {
	if !x.checking {
		return daemon.Result{}
	}
	x.checking = false
	err, _ := v.(error)
	return x.checked(c, err)
}

// checked answers a login: the status on success or after the last try,
// else a new REQUEST.
func (x *request) checked(c *daemon.Context, err error) daemon.Result {
	s := x.s
	r := daemon.Result{Done: true}
	if err == nil {
		s.user = x.user
		if c.Log != nil {
			c.Log.Info("XAUTH user authenticated", xauthFields(c, s, x.user)...)
		}
		return x.h.sendStatus(c, s, x.k, isakmp.XAuthStatusOK, r)
	}
	if c.Log != nil {
		c.Log.Warn("XAUTH login refused", append(xauthFields(c, s, x.user), errField(err), triesField(s.tries))...)
	}
	if s.tries < maxTries && errors.Is(err, xauth.ErrRejected) {
		r2 := x.h.askLogin(c, s, "Wrong user name or password; try again")
		r.Log = append(r.Log, r2.Log...)
		return r
	}
	s.failure = fmt.Sprintf("XAUTH of user %q failed after %d tries: %v", x.user, s.tries, err)
	if !errors.Is(err, xauth.ErrRejected) {
		s.failure = fmt.Sprintf("XAUTH of user %q failed: %v", x.user, err)
	}
	// Message 46 now: a client such as strongSwan deletes the SA on
	// the failure status without acknowledging it.
	r.Log = append(r.Log, failed(s, s.failure))
	return x.h.sendStatus(c, s, x.k, isakmp.XAuthStatusFail, r)
}

// statusAcked ends XAUTH on the client's ACK: done and on to Mode Config
// (push) or Quick Mode; after a failure status, the SA goes.
func (x *request) statusAcked(c *daemon.Context) daemon.Result {
	s := x.s
	if s.failure != "" {
		return end(c, x.s, x.k, daemon.Result{}) // message 46 went with the status
	}
	s.xauthDone = true
	r := daemon.Result{Done: true}
	if x.h.ModeConfig != nil && x.h.Push != nil && x.h.Push(s.conn) {
		return x.h.push(c, s, x.k, r)
	}
	return x.h.done(c, s, r)
}

// TimedOut: the peer never answered. A gateway's XAUTH or a client's
// Mode Config cannot finish, so the SA goes (message 46).
func (x *request) TimedOut(c *daemon.Context) daemon.Result {
	reason := fmt.Sprintf("no answer to the %v", x.kind)
	switch x.kind {
	case kindLogin:
		reason = "the peer did not answer the XAUTH request"
	case kindStatus:
		if x.s.failure != "" {
			return end(c, x.s, x.k, daemon.Result{}) // message 46 went with the status
		}
		reason = "the peer did not acknowledge the XAUTH status"
	case kindModeConfig:
		reason = "the gateway did not answer the Mode Config request"
	case kindPush:
		reason = "the peer did not acknowledge the Mode Config set"
	}
	return fail(c, x.s, x.k, reason, daemon.Result{})
}
