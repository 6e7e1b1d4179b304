package phase1

import "github.com/iked/iked/isakmp"

// INITIAL-CONTACT (RFC 2407, 4.6.3.3) tells the peer that this is the only
// ISAKMP SA we have with it: after a reboot, the SAs it still holds for us
// are stale and should go. strongSwan 5.9 sends it inside its MM5 (the
// recorded runs: "ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]") and
// acts on it only there (or in AM3): an informational after phase 1 sets
// a flag its IKE SA manager no longer looks at. So iked, as initiator,
// sends it inside MM5/AM3 too (Exchange.initialContact), and acts on it
// wherever it arrives (Life.ClearStale).

// InitialContact returns the INITIAL-CONTACT notify for the ISAKMP SA:
// protocol ISAKMP, both cookies as SPI, no data.
func (k *InfoKeys) InitialContact() *isakmp.Notification {
	return k.ISAKMPNotify(isakmp.InitialContact, nil)
}

// HasContact reports whether others holds an established ISAKMP SA with
// the peer of s, whom we are about to authenticate to: one of the same
// connection (by name, which a reload keeps) and, when both know it, the
// same peer identity. The initiator sends INITIAL-CONTACT only when there
// is none, as strongSwan does (it asks its IKE SA manager for a contact
// with the configured peer identity before its MM5).
func HasContact(s *SA, others []*SA) bool {
	for _, o := range others {
		if contactWith(s, o) {
			return true
		}
	}
	return false
}

// contactWith reports whether o is a contact HasContact looks for.
func contactWith(s, o *SA) bool {
	if o == s || o.State != StateEstablished || o.Conn == nil || s.Conn == nil || o.Conn.Name != s.Conn.Name {
		return false
	}
	return s.RemoteIDText == "" || o.RemoteIDText == "" || s.RemoteIDText == o.RemoteIDText
}

// StaleSAs returns the ISAKMP SAs that INITIAL-CONTACT received on s makes
// stale: every other established SA with the same peer identity, at the
// same peer address and port, of the same connection, which the daemon
// deletes together with their IPsec SAs. s itself is never in the list.
// The address matters because an identity alone does not name one peer:
// with a group pre-shared key, or clients that send the same identity,
// several peers behind one NAT share it and differ only in their NAT
// ports, and one client's INITIAL-CONTACT says nothing about the others.
// (strongSwan 5.9's IKE SA manager, src/libcharon/sa/ike_sa_manager.c
// check_uniqueness, compares the two identities and the address family
// only; iked is stricter.) A restarted peer that a NAT maps to another
// port leaves its old SA to DPD or the lifetime.
func StaleSAs(s *SA, others []*SA) []*SA {
	var out []*SA
	for _, o := range others {
		if o == s || o.State != StateEstablished || o.RemoteIDText != s.RemoteIDText || s.RemoteIDText == "" {
			continue
		}
		if o.Remote != s.Remote {
			continue
		}
		// By name: a reload gives the same connection a new value.
		if o.Conn != nil && s.Conn != nil && o.Conn.Name != s.Conn.Name {
			continue
		}
		out = append(out, o)
	}
	return out
}
