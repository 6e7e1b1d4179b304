package transaction

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/xauth"
)

// Handler runs the Transaction exchanges of every ISAKMP SA: the
// daemon.Handler of exchange type 6 (the peer's requests and sets), a
// daemon.Watcher (XAUTH or Mode Config begins once an SA is established;
// what an SA leased is released when it goes) and the quickmode Gate.
// stack.Build makes it; all methods run on the daemon's loop.
type Handler struct {
	// Backend checks the user names and passwords of `ike.xauth: server`
	// connections; when nil, Open builds it from the running policy's
	// daemon.xauth; without either every login is refused.
	Backend xauth.Backend
	// Open builds the backend that daemon.xauth names (xauth.Open); it
	// runs again for the policy a reload puts in force.
	Open func(policymgr.XAuth) (xauth.Backend, error)
	// ModeConfig hands out and applies Mode Config attributes; nil: no
	// Mode Config (a peer's Mode Config REQUEST or SET is refused).
	ModeConfig ModeConfig
	// Push, when set, says whether a connection's Mode Config is pushed
	// (mode-config.push): a gateway sends its attributes unasked (SET)
	// once XAUTH is done, or right after phase 1 without XAUTH; a client
	// sends no REQUEST and waits for that SET (PushWait at most).
	// Otherwise the client asks (REQUEST) and the gateway answers.
	Push func(conn *policymgr.Connection) bool
	// Ready is told when an SA's XAUTH and Mode Config are done, so that
	// the Quick Modes held back start (quickmode.Manager's Released).
	Ready func(c *daemon.Context) []notify.Message

	sessions map[*daemon.SA]*session
	// opened is the policy whose daemon.xauth built openedB (or openErr).
	opened  *policymgr.Policy
	openedB xauth.Backend
	openErr error
}

// errNoBackend refuses a login when no backend is configured.
var errNoBackend = errors.New("no XAUTH backend is configured (daemon.xauth)")

// backend returns the backend that checks a login on c's policy.
func (h *Handler) backend(c *daemon.Context) (xauth.Backend, error) {
	if h.Backend != nil {
		return h.Backend, nil
	}
	if h.Open == nil || c.Policy == nil {
		return nil, errNoBackend
	}
	if c.Policy != h.opened {
		h.opened = c.Policy
		h.openedB, h.openErr = h.Open(c.Policy.Daemon.XAuth)
	}
	if h.openErr != nil {
		return nil, h.openErr
	}
	if h.openedB == nil {
		return nil, errNoBackend
	}
	return h.openedB, nil
}

// NewHandler returns a Handler checking passwords with b (nil: none).
func NewHandler(b xauth.Backend) *Handler {
	return &Handler{Backend: b, sessions: map[*daemon.SA]*session{}}
}

// maxTries is how many wrong passwords a client may give on one ISAKMP
// SA before it is deleted: three, as Cisco gateways allow.
const maxTries = 3

// session is what one ISAKMP SA's Transaction exchanges have done.
type session struct {
	conn *policymgr.Connection
	p1   *phase1.SA
	// tries counts the logins checked (server); user is the user name
	// last given, the one that succeeded once xauthDone.
	tries int
	user  string
	// xauthDone: XAUTH succeeded, or the connection has none.
	// mcDone: Mode Config done, or not wanted.
	xauthDone, mcDone bool
	// leased: the gateway's ModeConfig gave this SA attributes (Release).
	leased bool
	// failure is why the status we sent was a failure.
	failure string
	// qmRefused: a Quick Mode of the peer was refused for want of Mode
	// Config, and said so (Refused).
	qmRefused bool
	// settling: our ACK ended the gateway's last exchange a moment ago,
	// and Quick Mode waits AckSettle for the gateway to take it
	// (doneAfterAck).
	settling bool
}

func (s *session) ready() bool { return s.xauthDone && s.mcDone && !s.settling }

// wantsModeConfig reports whether a client connection asks for Mode
// Config (pull) or waits for the gateway's SET (push).
func (h *Handler) wantsModeConfig(conn *policymgr.Connection) bool {
	return h.ModeConfig != nil && conn.IKE.XAuth != policymgr.XAuthServer && len(h.ModeConfig.Request(conn)) > 0
}

// pushed reports whether conn's Mode Config goes by push
// (mode-config.push): the gateway sends a SET, the client waits for it.
func (h *Handler) pushed(conn *policymgr.Connection) bool {
	return h.Push != nil && h.Push(conn)
}

// servesModeConfig reports whether a gateway connection leases addresses
// of a pool (mode-config.pool): its peer's Quick Mode waits for the
// lease, without which policymgr.WarriorLimit refuses its selector.
func (h *Handler) servesModeConfig(conn *policymgr.Connection) bool {
	return h.ModeConfig != nil && conn.ModeConfig != nil && conn.ModeConfig.Pool != nil
}

// needs reports whether an SA of conn has Transaction exchanges to finish
// before Quick Mode.
func (h *Handler) needs(conn *policymgr.Connection) bool {
	return conn != nil && conn.IKE != nil &&
		(conn.IKE.XAuth != policymgr.XAuthRoleNone || h.wantsModeConfig(conn) || h.servesModeConfig(conn))
}

// Holds reports whether Quick Mode must wait on sa (quickmode.Gate): its
// connection has XAUTH or Mode Config and they are not done yet.
func (h *Handler) Holds(sa *daemon.SA) bool {
	if s := h.sessions[sa]; s != nil {
		return !s.ready()
	}
	p1 := phase1.StateOf(sa)
	return p1 != nil && h.needs(p1.Conn)
}

// Refused answers the peer's Quick Mode that Holds refused
// (quickmode.Gate). A road warrior of a pool gateway that has done its
// XAUTH (or has none) and asked for no Mode Config, on a connection that
// does not push, cannot pass: its remote selector would have to be a
// lease it never asked for (policymgr.WarriorLimit). It gets one notice
// naming it and the reason and an INVALID-ID-INFORMATION notify (message
// 52), as a refused selector does; its further Quick Modes are refused
// quietly. Any other refusal is for now (XAUTH or a push under way).
func (h *Handler) Refused(c *daemon.Context) (daemon.Result, bool) {
	s := h.sessions[c.SA]
	if s == nil || !s.xauthDone || s.mcDone || !h.servesModeConfig(s.conn) || h.pushed(s.conn) {
		return daemon.Result{}, false
	}
	r := daemon.Result{Done: true}
	if s.qmRefused {
		r.Reject = errNoModeConfigAsked
		return r, true
	}
	s.qmRefused = true
	if c.Log != nil {
		c.Log.Notice("Quick Mode refused: the peer asked for no Mode Config address",
			zap.String("conn", s.conn.Name), zap.String("peer", s.p1.RemoteText()), zap.Stringer("cookies", c.SA.Cookies),
			zap.String("reason", fmt.Sprintf("connection %q leases the addresses of pool %q and the peer asked for none (mode-config.pool): configure the client to request one (strongSwan: vips = 0.0.0.0)", s.conn.Name, s.conn.ModeConfig.PoolName)))
	}
	k, ok := s.p1.InfoKeys()
	if !ok {
		return r, true
	}
	n := isakmp.InvalidIDInformation
	if out, err := phase1.SealInformational(k, c.NewMessageID(), []isakmp.Payload{k.ISAKMPNotify(n, nil)}); err == nil {
		r.Send = out
		r.Log = append(r.Log, notify.SendingNotification(s.p1.Remote, n.String()))
	}
	return r, true
}

// errNoModeConfigAsked refuses the further Quick Modes of a road warrior
// that asked for no Mode Config (Refused said why once).
var errNoModeConfigAsked = errors.New("transaction: Quick Mode of a road warrior that asked for no Mode Config address")

// newSession starts the record of an established SA.
func (h *Handler) newSession(p1 *phase1.SA) *session {
	conn := p1.Conn
	return &session{conn: conn, p1: p1, xauthDone: conn.IKE.XAuth == policymgr.XAuthRoleNone,
		mcDone: !h.wantsModeConfig(conn) && !h.servesModeConfig(conn)}
}

// SAEstablished begins what the SA's connection has to do after phase 1
// (daemon.Watcher): a gateway asks for the user name and password, a
// client without XAUTH asks for its Mode Config.
func (h *Handler) SAEstablished(c *daemon.Context) daemon.Result {
	p1 := phase1.StateOf(c.SA)
	if p1 == nil || !h.needs(p1.Conn) {
		return daemon.Result{}
	}
	s := h.newSession(p1)
	if old := h.sessions[c.SA]; old != nil {
		// A lease the earlier session took stays this SA's: SARemoved
		// gives it back by the SA's cookies, whichever session holds it.
		s.leased = old.leased
		if c.Log != nil {
			c.Log.Debug("transaction: a session began before the SA was reported established",
				zap.Stringer("cookies", c.SA.Cookies), zap.Bool("xauth-done", old.xauthDone),
				zap.Bool("mode-config-done", old.mcDone), zap.Bool("leased", old.leased))
		}
	}
	h.sessions[c.SA] = s
	switch {
	case p1.Conn.IKE.XAuth == policymgr.XAuthServer:
		return h.askLogin(c, s, "")
	case s.xauthDone && h.servesModeConfig(p1.Conn) && h.pushed(p1.Conn):
		k, ok := p1.InfoKeys()
		if !ok {
			return daemon.Result{}
		}
		return h.push(c, s, k, daemon.Result{})
	case s.xauthDone && h.wantsModeConfig(p1.Conn):
		return h.askModeConfig(c, s)
	}
	return daemon.Result{}
}

// SARemoved forgets the SA and gives back what Mode Config leased it
// (daemon.Watcher).
func (h *Handler) SARemoved(c *daemon.Context, _ daemon.RemoveReason) daemon.Result {
	s := h.sessions[c.SA]
	delete(h.sessions, c.SA)
	if s != nil && s.leased && h.ModeConfig != nil {
		h.ModeConfig.Release(c.SA.Cookies)
	}
	return daemon.Result{}
}

// session returns the record of c.SA, made on first use: a peer may
// start a Transaction exchange before our watcher ran. A Transaction
// exchange on an SA whose phase 1 is not done is refused.
func (h *Handler) session(c *daemon.Context) (*session, phase1.InfoKeys, error) {
	if c.SA == nil || !c.SA.Established {
		return nil, phase1.InfoKeys{}, fmt.Errorf("transaction: Transaction exchange before phase 1 is done")
	}
	p1 := phase1.StateOf(c.SA)
	if p1 == nil || p1.Conn == nil || p1.Conn.IKE == nil {
		return nil, phase1.InfoKeys{}, fmt.Errorf("transaction: ISAKMP SA without phase 1 state")
	}
	k, ok := p1.InfoKeys()
	if !ok {
		return nil, phase1.InfoKeys{}, fmt.Errorf("transaction: ISAKMP SA not keyed")
	}
	s := h.sessions[c.SA]
	if s == nil {
		s = h.newSession(p1)
		h.sessions[c.SA] = s
	}
	return s, k, nil
}

// done tells Ready once the SA's XAUTH and Mode Config are both done.
func (h *Handler) done(c *daemon.Context, s *session, r daemon.Result) daemon.Result {
	if s.ready() && h.Ready != nil {
		r.Log = append(r.Log, h.Ready(c)...)
	}
	return r
}

// fail ends the SA after a failed XAUTH or Mode Config: message 46 with
// the reason, a Delete of the ISAKMP SA to the peer, and the SA removed.
func fail(c *daemon.Context, s *session, k phase1.InfoKeys, reason string, r daemon.Result) daemon.Result {
	r.Log = append(r.Log, failed(s, reason))
	return end(c, s, k, r)
}

// failed is message 46 for the SA of s.
func failed(s *session, reason string) notify.Message {
	return notify.Phase1Failed(s.p1.Role.String(), s.p1.LocalText(), s.p1.RemoteText(), reason)
}

// end deletes the ISAKMP SA, with a Delete to the peer.
func end(c *daemon.Context, s *session, k phase1.InfoKeys, r daemon.Result) daemon.Result {
	ps := []isakmp.Payload{k.DeleteISAKMP()}
	if del, err := phase1.SealInformational(k, c.NewMessageID(), ps); err == nil {
		r.Also = append(r.Also, del)
		phase1.LogDelete(c.Log, s.p1.Remote, ps)
	}
	r.DeleteSA, r.Why = true, daemon.RemoveFailed
	r.Done = true
	return r
}

// identifier returns a random ATTR identifier for a request or set of ours.
func identifier(c *daemon.Context) uint16 {
	var b [2]byte
	if _, err := c.Rand.Read(b[:]); err != nil {
		return 1
	}
	return binary.BigEndian.Uint16(b[:])
}

// begin sends a REQUEST or SET of ours in an exchange of its own message
// ID, retransmitted until its answer comes.
func (h *Handler) begin(c *daemon.Context, s *session, k phase1.InfoKeys, kind kind, a *isakmp.Attr) error {
	mid := c.NewMessageID()
	p := newProtection(k, mid)
	out, err := p.seal(a)
	if err != nil {
		return err
	}
	c.Begin(isakmp.ExchangeTransaction, mid, &request{h: h, s: s, k: k, p: p, kind: kind, sent: a},
		daemon.Result{Send: out, Request: true})
	return nil
}

// Start answers a REQUEST or SET the peer begins (daemon.Handler): the
// answer goes at once, and the daemon answers a retransmission of the
// request from its cache.
func (h *Handler) Start(c *daemon.Context, pk *daemon.Packet) (daemon.Exchange, daemon.Result) {
	s, k, err := h.session(c)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	p := newProtection(k, pk.Header.MessageID)
	a, next, err := p.open(pk.Data)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	p.accept(next)
	var ans *isakmp.Attr
	var r daemon.Result
	switch {
	case a.CfgType == isakmp.CfgRequest && hasXAuth(a):
		ans, r = h.loginAsked(c, s, a)
	case a.CfgType == isakmp.CfgSet && hasXAuth(a):
		ans, r = h.loginStatus(c, s, k, a)
	case a.CfgType == isakmp.CfgRequest:
		ans, r = h.modeConfigAsked(c, s, k, a)
	case a.CfgType == isakmp.CfgSet:
		ans, r = h.modeConfigSet(c, s, a)
	default:
		return nil, daemon.Result{Reject: fmt.Errorf("transaction: %v starts no exchange", a.CfgType)}
	}
	if r.Reject != nil {
		return nil, r
	}
	out, err := p.seal(ans)
	if err != nil {
		return nil, daemon.Result{Reject: err}
	}
	r.Send = out
	return nil, r
}
