// Package radius checks XAUTH user names and passwords with RADIUS
// servers (RFC 2865): an Access-Request with PAP (User-Password, RFC 2865
// 5.2), NAS-Identifier and Message-Authenticator (RFC 3579, 3.2), sent to
// the servers in turn until one answers.
package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/iked/iked/policymgr"
)

// ErrRejected is wrapped by Check's error when a server answered
// Access-Reject (or Access-Challenge, which an XAUTH login cannot answer).
var ErrRejected = errors.New("radius: Access-Reject")

// maxPassword is the longest User-Password PAP carries (RFC 2865, 5.2).
const maxPassword = 128

// Client asks the RADIUS servers of daemon.xauth.radius. It is safe for
// concurrent use; each check is one exchange of its own.
type Client struct {
	servers []netip.AddrPort
	secret  []byte
	nasID   string
	timeout time.Duration
	// first is the server a check asks first: the one that answered
	// last, so that a dead first server costs one timeout, not one per
	// login.
	first atomic.Int32
}

// New returns the client of cfg. The secret is the one the policy read
// from secret-file.
func New(cfg policymgr.RADIUS) (*Client, error) {
	switch {
	case len(cfg.Servers) == 0:
		return nil, errors.New("radius: no server")
	case len(cfg.Secret) == 0:
		return nil, errors.New("radius: no shared secret")
	case cfg.Timeout <= 0:
		return nil, errors.New("radius: no timeout")
	case cfg.NASIdentifier == "":
		return nil, errors.New("radius: no NAS-Identifier")
	}
	return &Client{servers: cfg.Servers, secret: bytes.Clone(cfg.Secret.Bytes()), nasID: cfg.NASIdentifier, timeout: cfg.Timeout}, nil
}

// Check asks the servers, starting with the one that answered last and
// going on to the next when one does not answer within the timeout (or
// refuses the datagram). Access-Accept is nil, Access-Reject an error
// wrapping ErrRejected; when no server answers, an error naming each.
func (c *Client) Check(ctx context.Context, user, password string) error {
	switch {
	case user == "" || len(user) > 253:
		return fmt.Errorf("%w: the user name is empty or longer than 253 bytes", ErrRejected)
	case len(password) > maxPassword:
		return fmt.Errorf("%w: the password is longer than %d bytes, more than PAP carries", ErrRejected, maxPassword)
	}
	n := len(c.servers)
	start := int(c.first.Load())
	var errs []error
	for i := range n {
		k := (start + i) % n
		err := c.ask(ctx, c.servers[k], user, password)
		if err == nil || errors.Is(err, ErrRejected) {
			c.first.Store(int32(k))
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.servers[k], err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("radius: no server answered: %w", errors.Join(errs...))
}

// ask sends one Access-Request to server and waits for its answer,
// resending it twice within the timeout.
func (c *Client) ask(ctx context.Context, server netip.AddrPort, user, password string) error {
	p := layeh.New(layeh.CodeAccessRequest, c.secret)
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return fmt.Errorf("%w: User-Name: %v", ErrRejected, err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return fmt.Errorf("%w: User-Password: %v", ErrRejected, err)
	}
	if err := rfc2865.NASIdentifier_SetString(p, c.nasID); err != nil {
		return err
	}
	// RFC 2865, 5.41: a VPN is a "Virtual" port.
	if err := rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Virtual); err != nil {
		return err
	}
	if err := signRequest(p); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	client := layeh.Client{Retry: c.timeout / 3, MaxPacketErrors: 10}
	resp, err := client.Exchange(ctx, p, server.String())
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %v", c.timeout)
		}
		return err
	}
	if err := checkResponse(resp, p); err != nil {
		return err
	}
	switch resp.Code {
	case layeh.CodeAccessAccept:
		return nil
	case layeh.CodeAccessReject:
		if msg := rfc2865.ReplyMessage_GetString(resp); msg != "" {
			return fmt.Errorf("%w by %s: %q", ErrRejected, server, msg)
		}
		return fmt.Errorf("%w by %s", ErrRejected, server)
	case layeh.CodeAccessChallenge:
		return fmt.Errorf("%w: %s answered Access-Challenge, which XAUTH cannot pass on", ErrRejected, server)
	}
	return fmt.Errorf("answered %v to an Access-Request", resp.Code)
}

// signRequest adds the Message-Authenticator: HMAC-MD5 keyed with the
// secret over the whole packet, the attribute's own value zero while it
// is computed (RFC 3579, 3.2). A server that checks it (FreeRADIUS
// require_message_authenticator) then cannot be fooled by a forged
// request, and every server is asked to answer with one.
func signRequest(p *layeh.Packet) error {
	value := make([]byte, md5.Size)
	if err := rfc2869.MessageAuthenticator_Add(p, value); err != nil {
		return err
	}
	attr := p.Attributes[len(p.Attributes)-1].Attribute
	b, err := p.MarshalBinary() // an Access-Request is sent as marshalled
	if err != nil {
		return err
	}
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(b)
	copy(attr, mac.Sum(nil))
	return nil
}

// checkResponse verifies a response's Message-Authenticator, when it has
// one, against the request's authenticator (RFC 3579, 3.2). The
// Response Authenticator was verified by the client already.
func checkResponse(resp, req *layeh.Packet) error {
	var ma *layeh.AVP
	for _, a := range resp.Attributes {
		if a.Type == rfc2869.MessageAuthenticator_Type {
			if ma != nil {
				return errors.New("the answer has two Message-Authenticators")
			}
			ma = a
		}
	}
	if ma == nil {
		return nil
	}
	if len(ma.Attribute) != md5.Size {
		return errors.New("the answer's Message-Authenticator is not 16 bytes")
	}
	got := ma.Attribute
	ma.Attribute = make([]byte, md5.Size)
	defer func() { ma.Attribute = got }()
	q := *resp
	q.Authenticator = req.Authenticator
	b, err := q.MarshalBinary()
	if err != nil {
		return err
	}
	mac := hmac.New(md5.New, req.Secret)
	mac.Write(b)
	if !hmac.Equal(mac.Sum(nil), got) {
		return errors.New("the answer's Message-Authenticator is wrong (is the secret the server's?)")
	}
	return nil
}
