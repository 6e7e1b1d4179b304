package transaction

import (
	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// askLogin sends the gateway's XAUTH REQUEST: a user name and a password
// (draft-beaulieu-ike-xauth-02, 4.1; generic type as strongSwan's
// xauth-generic asks), with a message after a wrong try.
func (h *Handler) askLogin(c *daemon.Context, s *session, message string) daemon.Result {
	k, ok := s.p1.InfoKeys()
	if !ok {
		return daemon.Result{}
	}
	a := &isakmp.Attr{CfgType: isakmp.CfgRequest, Identifier: identifier(c), Attributes: isakmp.Attributes{
		isakmp.VarAttr(isakmp.XAuthUserName, nil), isakmp.VarAttr(isakmp.XAuthUserPassword, nil)}}
	if message != "" {
		a.Attributes = append(a.Attributes, isakmp.VarAttr(isakmp.XAuthMessage, []byte(message)))
	}
	if err := h.begin(c, s, k, kindLogin, a); err != nil {
		return daemon.Result{Reject: err}
	}
	return daemon.Result{}
}

// sendStatus sends the XAUTH status in a SET (draft-beaulieu-ike-xauth-02,
// 4.1), after r (the end of the login exchange).
func (h *Handler) sendStatus(c *daemon.Context, s *session, k phase1.InfoKeys, status uint16, r daemon.Result) daemon.Result {
	a := &isakmp.Attr{CfgType: isakmp.CfgSet, Identifier: identifier(c), Attributes: isakmp.Attributes{
		isakmp.BasicAttr(isakmp.XAuthStatus, status)}}
	if err := h.begin(c, s, k, kindStatus, a); err != nil {
		return fail(c, s, k, "cannot send the XAUTH status: "+err.Error(), r)
	}
	return r
}

// push sends the gateway's Mode Config attributes unasked (SET).
func (h *Handler) push(c *daemon.Context, s *session, k phase1.InfoKeys, r daemon.Result) daemon.Result {
	got, err := h.ModeConfig.Reply(s.conn, c.SA.Cookies, s.p1.RemoteText(), s.user, nil)
	if err != nil {
		return fail(c, s, k, "Mode Config: "+err.Error(), r)
	}
	s.leased = true
	a := &isakmp.Attr{CfgType: isakmp.CfgSet, Identifier: identifier(c), Attributes: got}
	if err := h.begin(c, s, k, kindPush, a); err != nil {
		return fail(c, s, k, "cannot send the Mode Config set: "+err.Error(), r)
	}
	return r
}

// modeConfigAsked answers a client's Mode Config REQUEST (pull) with what
// ModeConfig gives it; a gateway with XAUTH answers only after the login.
// On a failure (a full pool, say) the REPLY is empty, as strongSwan
// answers, and the ISAKMP SA goes with a Delete and message 46 with the
// reason: its peer has no address, so no Quick Mode of it could pass
// (policymgr.WarriorLimit).
func (h *Handler) modeConfigAsked(c *daemon.Context, s *session, k phase1.InfoKeys, a *isakmp.Attr) (*isakmp.Attr, daemon.Result) {
	if h.ModeConfig == nil {
		return nil, daemon.Result{Reject: errNoModeConfig}
	}
	if s.conn.IKE.XAuth == policymgr.XAuthServer && !s.xauthDone {
		return nil, daemon.Result{Reject: errBeforeXAuth}
	}
	reply := &isakmp.Attr{CfgType: isakmp.CfgReply, Identifier: a.Identifier}
	got, err := h.ModeConfig.Reply(s.conn, c.SA.Cookies, s.p1.RemoteText(), s.user, a.Attributes)
	if err != nil {
		if c.Log != nil {
			c.Log.Warn("Mode Config request not answered", zap.String("conn", s.conn.Name), zap.Stringer("cookies", c.SA.Cookies), zap.Error(err))
		}
		return reply, fail(c, s, k, "Mode Config: "+err.Error(), daemon.Result{})
	}
	reply.Attributes = got
	s.leased = true
	s.mcDone = true
	return reply, h.done(c, s, daemon.Result{})
}
