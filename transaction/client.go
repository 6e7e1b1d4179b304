package transaction

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

var (
	errNoModeConfig = errors.New("transaction: Mode Config is not offered")
	errBeforeXAuth  = errors.New("transaction: Mode Config before XAUTH is done")
	errNotClient    = errors.New("transaction: XAUTH request on a connection without xauth: client")
	errXAuthDone    = errors.New("transaction: XAUTH request after XAUTH is done")
)

// loginAsked answers the gateway's XAUTH REQUEST with the connection's
// user name and password (draft-beaulieu-ike-xauth-02, 4.1); only the
// generic type is spoken.
func (h *Handler) loginAsked(c *daemon.Context, s *session, a *isakmp.Attr) (*isakmp.Attr, daemon.Result) {
	ike := s.conn.IKE
	if ike.XAuth != policymgr.XAuthClient {
		return nil, daemon.Result{Reject: errNotClient}
	}
	if s.xauthDone {
		return nil, daemon.Result{Reject: errXAuthDone}
	}
	reply := &isakmp.Attr{CfgType: isakmp.CfgReply, Identifier: a.Identifier}
	for _, at := range a.Attributes {
		switch isakmp.CfgAttr(at.Type) {
		case isakmp.XAuthType:
			if v, _ := at.Uint(); v != uint64(isakmp.XAuthTypeGeneric) {
				return nil, daemon.Result{Reject: fmt.Errorf("transaction: XAUTH type %d (only generic is spoken)", v)}
			}
			reply.Attributes = append(reply.Attributes, isakmp.BasicAttr(isakmp.XAuthType, isakmp.XAuthTypeGeneric))
		case isakmp.XAuthUserName:
			reply.Attributes = append(reply.Attributes, isakmp.VarAttr(isakmp.XAuthUserName, []byte(ike.XAuthUser)))
		case isakmp.XAuthUserPassword:
			reply.Attributes = append(reply.Attributes, isakmp.VarAttr(isakmp.XAuthUserPassword, ike.XAuthPassword.Bytes()))
		case isakmp.XAuthMessage:
			if c.Log != nil {
				c.Log.Info("XAUTH message from the gateway", zap.String("conn", s.conn.Name), zap.String("message", printable(at.Data)))
			}
		}
	}
	return reply, daemon.Result{}
}

// loginStatus acknowledges the gateway's XAUTH status; a failure ends the
// SA (message 46), a success moves on to Mode Config or Quick Mode.
func (h *Handler) loginStatus(c *daemon.Context, s *session, k phase1.InfoKeys, a *isakmp.Attr) (*isakmp.Attr, daemon.Result) {
	if s.conn.IKE.XAuth != policymgr.XAuthClient {
		return nil, daemon.Result{Reject: errNotClient}
	}
	ack := &isakmp.Attr{CfgType: isakmp.CfgAck, Identifier: a.Identifier, Attributes: isakmp.Attributes{
		isakmp.VarAttr(isakmp.XAuthStatus, nil)}}
	v, _ := a.Attributes.Get(uint16(isakmp.XAuthStatus))
	if status, _ := v.Uint(); status != uint64(isakmp.XAuthStatusOK) {
		return ack, fail(c, s, k, fmt.Sprintf("the gateway refused XAUTH user %q", s.conn.IKE.XAuthUser), daemon.Result{})
	}
	s.xauthDone = true
	s.user = s.conn.IKE.XAuthUser
	if c.Log != nil {
		c.Log.Info("XAUTH accepted by the gateway", xauthFields(c, s, s.user)...)
	}
	if !s.mcDone {
		return ack, h.askModeConfig(c, s)
	}
	return ack, h.doneAfterAck(c, s)
}

// AckSettle is how long a client waits after the ACK that ends the
// gateway's XAUTH status or Mode Config SET before its held Quick Modes
// start. The ACK and a QM1 right behind it reach the gateway together,
// and charon hands each received message to a worker thread of its own
// (strongSwan src/libcharon/processing/processor.c): the QM1 may take
// the IKE_SA first, while XAUTH has not yet established it, and charon
// then drops the QM1 and destroys the IKE_SA without a word
// (src/libcharon/sa/ikev1/task_manager_v1.c, "received quick mode request
// for unestablished IKE_SA, ignored"), leaving the client with an ISAKMP
// SA the gateway no longer has. A tenth of a second is a thousand times
// the gap between the two datagrams, and nothing a user waits for.
const AckSettle = 100 * time.Millisecond

// settleTimer names the client's wait of AckSettle (daemon.Context.At).
const settleTimer = "xauth-ack-settle"

// doneAfterAck is done for an ACK of ours that ends the gateway's
// exchange: the Quick Modes held back start AckSettle later, and the
// Gate holds until then.
func (h *Handler) doneAfterAck(c *daemon.Context, s *session) daemon.Result {
	if !s.xauthDone || !s.mcDone || h.Ready == nil {
		return h.done(c, s, daemon.Result{})
	}
	s.settling = true
	if c.Log != nil {
		c.Log.Debug("Quick Mode starts once the gateway has taken our ACK", zap.Stringer("cookies", c.SA.Cookies), zap.Duration("after", AckSettle))
	}
	c.At(settleTimer, c.Now.Add(AckSettle), func(c *daemon.Context) daemon.Result {
		s := h.sessions[c.SA]
		if s == nil || !s.settling {
			return daemon.Result{}
		}
		s.settling = false
		return h.done(c, s, daemon.Result{})
	})
	return daemon.Result{}
}

// PushWait is how long a client with mode-config.push waits for the
// gateway's SET before it gives up on the ISAKMP SA: long enough for a
// gateway's XAUTH backend and retransmissions, short enough that a
// gateway that never pushes is reported.
const PushWait = 60 * time.Second

// pushTimer names the client's wait for the gateway's SET (daemon.Context.At).
const pushTimer = "modecfg-push"

// askModeConfig sends the client's Mode Config REQUEST (pull), or, with
// mode-config.push, waits for the gateway's SET.
func (h *Handler) askModeConfig(c *daemon.Context, s *session) daemon.Result {
	k, ok := s.p1.InfoKeys()
	if !ok || h.ModeConfig == nil {
		return daemon.Result{}
	}
	if h.pushed(s.conn) {
		c.At(pushTimer, c.Now.Add(PushWait), func(c *daemon.Context) daemon.Result {
			s := h.sessions[c.SA]
			if s == nil || s.mcDone {
				return daemon.Result{}
			}
			return fail(c, s, k, fmt.Sprintf("the gateway pushed no Mode Config within %v (mode-config.push)", PushWait), daemon.Result{})
		})
		return daemon.Result{}
	}
	a := &isakmp.Attr{CfgType: isakmp.CfgRequest, Identifier: identifier(c), Attributes: h.ModeConfig.Request(s.conn)}
	if err := h.begin(c, s, k, kindModeConfig, a); err != nil {
		return daemon.Result{Reject: err}
	}
	return daemon.Result{}
}

// modeConfigGot applies the gateway's Mode Config REPLY.
func (h *Handler) modeConfigGot(c *daemon.Context, s *session, k phase1.InfoKeys, got isakmp.Attributes) daemon.Result {
	if err := h.ModeConfig.Apply(s.conn, c.SA.Cookies, got); err != nil {
		return fail(c, s, k, "Mode Config: "+err.Error(), daemon.Result{})
	}
	s.mcDone = true
	return h.done(c, s, daemon.Result{Done: true})
}

// modeConfigSet applies the gateway's Mode Config SET (push) and
// acknowledges each attribute by its type.
func (h *Handler) modeConfigSet(c *daemon.Context, s *session, a *isakmp.Attr) (*isakmp.Attr, daemon.Result) {
	if h.ModeConfig == nil || s.conn.IKE.XAuth == policymgr.XAuthServer {
		return nil, daemon.Result{Reject: errNoModeConfig}
	}
	if s.conn.IKE.XAuth == policymgr.XAuthClient && !s.xauthDone {
		return nil, daemon.Result{Reject: errBeforeXAuth}
	}
	if err := h.ModeConfig.Apply(s.conn, c.SA.Cookies, a.Attributes); err != nil {
		return nil, daemon.Result{Reject: fmt.Errorf("transaction: Mode Config set not applied: %w", err)}
	}
	ack := &isakmp.Attr{CfgType: isakmp.CfgAck, Identifier: a.Identifier}
	for _, at := range a.Attributes {
		ack.Attributes = append(ack.Attributes, isakmp.VarAttr(at.Type, nil))
	}
	c.Cancel(pushTimer)
	s.mcDone = true
	return ack, h.doneAfterAck(c, s)
}

// printable keeps a gateway's text fit for one log line.
func printable(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, string(b))
}

func xauthFields(c *daemon.Context, s *session, user string) []zap.Field {
	return []zap.Field{zap.String("conn", s.conn.Name), zap.String("user", user), zap.Stringer("cookies", c.SA.Cookies),
		zap.String("peer", s.p1.RemoteText())}
}

func errField(err error) zap.Field { return zap.Error(err) }

func triesField(n int) zap.Field { return zap.Int("try", n) }
