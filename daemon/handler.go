package daemon

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Packet is one received ISAKMP message, handed to an exchange. The loop
// has checked the header (isakmp.ParseHeader) and nothing else: the
// exchange decodes, decrypts and verifies.
type Packet struct {
	Header isakmp.Header
	Data   []byte         // the whole message from the ISAKMP header on (NAT-T marker stripped)
	Local  netip.AddrPort // the address and port the peer sent to
	Remote netip.AddrPort
	NATT   bool // arrived on the NAT-T port
}

// Result is what an exchange asks the loop to do after consuming a message,
// a work result or an engine event. The zero Result does nothing.
type Result struct {
	// Reject says the message was not accepted (decode error, bad hash,
	// wrong state): the exchange's state is unchanged, the datagram is
	// counted as rejected, and a request of ours awaiting a reply keeps
	// being retransmitted. Its text goes to the debug log.
	Reject error

	// Send is a message to send to the exchange's peer. When Request is
	// set it is a request: it is retransmitted with a doubling timeout until
	// the exchange consumes an answer, and Exchange.TimedOut is called after
	// the last try. Otherwise it is a reply, kept so that a retransmission
	// of the message it answers gets it again without a second computation.
	Send    []byte
	Request bool

	// Work runs in the worker pool (Diffie-Hellman, signatures); its value
	// comes back to Exchange.Resume. Until then the exchange is busy and
	// new messages for it are dropped (the peer retransmits).
	Work func() any
	// Cheap says Work takes microseconds, not milliseconds (a pre-shared
	// key's HMACs, a nonce without PFS): the loop runs it itself once the
	// rest of the Result is carried out, rather than through the pool,
	// whose hand-offs (a worker woken, its value posted back to the loop)
	// cost more than such work. What a peer can ask for before it has
	// answered anything of ours is never cheap.
	Cheap bool

	// IO runs in the daemon's I/O pool, apart from the workers: a call
	// that waits on something outside (an XAUTH backend: RADIUS, PAM),
	// with a context cancelled when the daemon stops. Its value comes
	// back to Exchange.Resume as Work's does; when the pool is full,
	// Resume gets ErrIOFull instead (counted, and logged).
	IO func(ctx context.Context) any

	// Engine requests go to the engine queue; their answers (same token)
	// come back to Exchange.Resume as an engine.Event. Use Context.Token.
	Engine []engine.Request

	// Log is emitted in order.
	Log []notify.Message

	// Established marks the ISAKMP SA authenticated: it leaves the
	// half-open count and stays when its phase 1 exchange is done.
	Established bool

	// Done ends the exchange. Its last reply is still answered to a
	// retransmitted request for a while (RFC 2408, 5: the peer may not have
	// received it).
	Done bool

	// DeleteSA removes the ISAKMP SA and every exchange on it; Why says
	// why, for the Watchers (unset: failed before authentication, deleted
	// by the peer after).
	DeleteSA bool
	Why      RemoveReason

	// Raw is a datagram sent to the SA's peer as it is, without the
	// non-ESP marker: a NAT keepalive (RFC 3948, 2.3).
	Raw []byte

	// Also are further messages for the peer, each sent once after Send
	// (neither retransmitted nor kept for the reply cache): e.g. the
	// Delete that follows a failure notify.
	Also [][]byte
}

// Exchange is one running exchange: a phase 1 exchange (message ID 0), a
// Quick Mode or an informational exchange. The loop calls it from its own
// goroutine only, so it needs no locking; it must not block.
type Exchange interface {
	// Consume handles a message addressed to this exchange.
	Consume(c *Context, p *Packet) Result
	// Resume handles the value returned by Work, or an engine.Event.
	Resume(c *Context, v any) Result
	// TimedOut is called when the last retransmission of a request went
	// unanswered; the loop has logged it. The exchange is then removed.
	TimedOut(c *Context) Result
	// State names the exchange's state for ikectl list-sas.
	State() string
}

// Handler starts exchanges of one exchange type as responder: it is called
// for a message that no running exchange claims (the first message of Main
// or Aggressive Mode, of a Quick Mode, of an informational exchange).
// phase1/ registers Main and Aggressive Mode and informational; quickmode/
// registers Quick Mode.
type Handler interface {
	// Start returns the new exchange, or nil (with Result.Reject) when the
	// message cannot start one. A nil exchange with no Reject is an
	// exchange that ended at once (an informational message): its Result
	// is carried out and nothing is kept.
	Start(c *Context, p *Packet) (Exchange, Result)
}

// Initiator starts exchanges as initiator for `ikectl initiate CONN` (and,
// later, kernel acquires). phase1/ registers one.
type Initiator interface {
	// Initiate begins phase 1 for the connection. It sets c.SA.Remote (and
	// c.SA.Local if it matters) and returns the exchange and its first
	// Result (a Send with Request set).
	Initiate(c *Context, conn string) (Exchange, Result, error)
}

// Deleter says goodbye for an established ISAKMP SA: phase1/ registers
// one that sends the Delete payloads (RFC 2408, 3.15; for the ISAKMP SA and
// its IPsec SAs) as an informational exchange. The loop calls it for
// `ikectl terminate` and for every established SA at shutdown, sends what
// it returns, then forgets the SA.
type Deleter interface {
	Delete(c *Context) Result
}

// Rekeyer rekeys the IPsec SAs of an established ISAKMP SA on request
// (`ikectl rekey`): quickmode/ registers one that starts, for each bundle
// c.SA holds that is not being rekeyed already, the Quick Mode its soft
// lifetime would start. It reports how many it started; the loop carries
// out the Result (log, engine requests) and the exchanges begun.
type Rekeyer interface {
	Rekey(c *Context) (int, Result)
}

// Reauthenticator replaces an established ISAKMP SA by a new phase 1 on
// request (`ikectl reauth`): phase1/ registers its Life, which starts the
// reauthentication the SA's lifetime would, or says why it does not.
type Reauthenticator interface {
	Reauth(c *Context) error
}

// Context is the loop's state that an exchange may use while it runs. It is
// valid only during the call it is passed to.
type Context struct {
	Now    time.Time
	Rand   io.Reader // cookies, nonces, SPIs, message IDs
	Log    *notify.Logger
	Policy *policymgr.Policy // the running policy, as the Loader returned it
	SA     *SA               // the ISAKMP SA the exchange runs on
	d      *Daemon
	run    *running
}

// Token returns a fresh token for an engine request; the answer is routed
// back to the exchange running this call.
func (c *Context) Token() uint64 {
	t := c.d.newTokenRaw()
	if c.run != nil {
		c.d.tokens[t] = tokenRef{sa: c.SA, run: c.run}
		if c.SA != nil {
			if c.SA.tokens == nil {
				// Room for what a Quick Mode asks at once (an SPI
				// per protocol; the bundle and its policies), rather
				// than 1, 2, then 4.
				c.SA.tokens = make([]uint64, 0, 4)
			}
			c.SA.tokens = append(c.SA.tokens, t)
		}
	}
	return t
}

// NewMessageID returns a random message ID that is neither 0 nor in use on
// c.SA, for a Quick Mode or informational exchange we start.
func (c *Context) NewMessageID() uint32 { return c.d.newMessageID(c.SA) }

// Begin starts a second exchange on c.SA as initiator (Quick Mode after
// phase 1, an informational Delete or DPD): ex runs with message ID id and
// first does r, just as if it had returned r itself.
func (c *Context) Begin(t isakmp.ExchangeType, id uint32, ex Exchange, r Result) {
	c.d.begun = append(c.d.begun, begun{sa: c.SA, run: &running{id: id, typ: t, ex: ex}, res: r})
}

// Initiate starts phase 1 of a connection through the registered
// Initiator once the current call is carried out: a KernelHandler calls it
// for an ACQUIRE of an on-demand connection.
func (c *Context) Initiate(conn string) { c.d.pendingInit = append(c.d.pendingInit, conn) }

// Settings returns the daemon settings in force.
func (c *Context) Settings() Settings {
	if c.d == nil {
		return DefaultSettings()
	}
	return c.d.settings
}

// Role is which side of an exchange or an SA this daemon is: of the
// ISAKMP SA (phase 1) or of a Quick Mode (quickmode), which need not be
// the same.
type Role uint8

const (
	RoleInitiator Role = iota + 1
	RoleResponder
)

// String returns "initiator" or "responder", the words of messages 46
// and 58.
func (r Role) String() string {
	switch r {
	case RoleInitiator:
		return "initiator"
	case RoleResponder:
		return "responder"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}
