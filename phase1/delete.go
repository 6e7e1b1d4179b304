package phase1

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
)

// Deleter says goodbye for an established ISAKMP SA (daemon.Deleter) on
// `ikectl terminate`, at shutdown and when a reauthentication retires it;
// stack.Build puts quickmode's Deleter, which deletes the IPsec SAs too,
// in front of it.
type Deleter struct {
	// Life forgets the SA's DPD state.
	Life *Life
}

// Delete sends a protected informational with the Delete payload of the
// ISAKMP SA (RFC 2408, 3.15), logged by LogDelete (an ordinary end, not message 52). The
// IPsec SAs' Delete payloads are Quick Mode's to send (it knows their
// SPIs).
func (h Deleter) Delete(c *daemon.Context) daemon.Result {
	s, err := phase1SA(c)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	h.Life.Forget(c.SA)
	k, ok := s.InfoKeys()
	if !ok {
		return daemon.Result{}
	}
	del := k.DeleteISAKMP()
	out, err := sealInfo(c, k, del)
	if err != nil {
		return daemon.Result{Reject: err}
	}
	LogDelete(c.Log, s.Remote, []isakmp.Payload{del})
	return daemon.Result{Send: out}
}
