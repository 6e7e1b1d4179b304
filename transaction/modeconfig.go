package transaction

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// ModeConfig is Mode Config's address and attribute store (package modecfg).
type ModeConfig interface {
	// Reply answers a client's REQUEST (asked may be empty: push) for the
	// ISAKMP SA owner of connection conn: the attributes of the REPLY/SET.
	Reply(conn *policymgr.Connection, owner daemon.Cookies, identity, user string, asked []isakmp.Attribute) ([]isakmp.Attribute, error)
	// Release gives back what owner leased; called when the ISAKMP SA goes.
	Release(owner daemon.Cookies)
	// Request is what a client connection asks for.
	Request(conn *policymgr.Connection) []isakmp.Attribute
	// Apply installs what a gateway gave a client connection (address on the
	// configured interface, or the updown hook; DNS) and remembers it for Quick Mode.
	Apply(conn *policymgr.Connection, owner daemon.Cookies, got []isakmp.Attribute) error
}
