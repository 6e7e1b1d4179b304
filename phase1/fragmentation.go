package phase1

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/policymgr"
)

// IKE fragmentation (Cisco's IKEv1 scheme, as strongSwan implements it):
// phase 1 announces it with the FRAGMENTATION Vendor ID and records the
// peer's; the daemon cuts and joins the messages (daemon/fragment.go,
// daemon/reassembly.go).

// fragmentationOf is a connection's fragmentation key; yes (the default)
// while the responder does not know the connection yet.
func fragmentationOf(c *policymgr.Connection) policymgr.Fragmentation {
	if c == nil {
		return policymgr.FragmentYes
	}
	return c.Fragmentation
}

// announceFragmentation reports whether our first message carries the
// FRAGMENTATION Vendor ID: as initiator unless the connection says no; as
// responder only in answer to the peer's, as strongSwan's
// isakmp_vendor.c does.
func (x *Exchange) announceFragmentation() bool {
	s := x.SA
	if s.Role == daemon.RoleResponder && !s.PeerFragmentation {
		return false
	}
	return fragmentationOf(s.Conn) != policymgr.FragmentNo
}

// fragmentUse is what the daemon needs to send this SA's messages in
// fragments.
func (x *Exchange) fragmentUse() daemon.FragmentUse {
	return daemon.FragmentUse{Mode: fragmentationOf(x.SA.Conn), Peer: x.SA.PeerFragmentation, Exchange: x.SA.Mode}
}
